"""Random and mutated payloads on every topic our processes consume, through a real
broker to a real server and a real gateway, each body validly sealed with the hut's key
(so the parser behind the MAC is fuzzed) and once more unsealed, sealed with another hut's
key, sealed for another kind of topic or altered after sealing (refused whatever it holds).
Afterwards each process is alive, every refused message is accounted for (the server's
dead letters, the gateway's ``rejected_messages``), every message the contract accepts is
answered, and a valid event and a valid command still work, with nothing of the hut's own
lost and the gateway still deciding with the server's allowlist."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_link import FakeGatewayLink
from tests.support.hostile_payloads import REFUSED, Seal, Sealer, hostile_bodies
from tests.support.hut_stack import HUT, ZHANG, HutStack, hut_stack
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from toolhut.contract import (
    MAX_WIRE_INT,
    Command,
    ContractError,
    Status,
    TopicKind,
    Topics,
    new_id,
    parse_ack,
    parse_allowlist,
    parse_command,
    parse_event,
    utc_now,
)
from toolhut.hut_keys import HutKey
from toolhut.mqtt import MqttEndpoint, make_client

pytestmark = pytest.mark.e2e

SEED = 20261127
PER_TOPIC = 150
LI = "04D5E6F7"  # 李师傅, seeded
GHOST = "ghost-hut"  # a hut the server does not know
OTHER = "other-hut"  # another hut: its messages, and its key
# Events behind a gap (a forged high seq) wait this long, not the default 30 s.
SERVER_ENV = {"TOOLHUT_SERVER_GAP_TIMEOUT_S": "1", "TOOLHUT_SERVER_GAP_SWEEP_S": "0.2"}
GATEWAY_ENV = {"TOOLHUT_GATEWAY_STATUS_INTERVAL_S": "5"}


def borrow(stack: HutStack, card: str, tag: str) -> None:
    emulator = stack.emulator
    assert emulator is not None
    emulator.send(f"card {card}")
    emulator.expect(r"lock released")
    emulator.send("door open")
    emulator.send(f"scan {tag}")
    assert emulator.expect(r"^recv feedback beep=(\w+) text=\"[^\"]*借").group(1) == "ok"
    emulator.send("door close")


def dead_letters(stack: HutStack) -> tuple[int, int]:
    """(dead letters, of which refused for their seal: forged) in the server's ledger."""
    with closing(sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT count(*), coalesce(sum(reason LIKE 'unauthenticated %'), 0)"
            " FROM rejected_messages"
        ).fetchone()
    return int(row[0]), int(row[1])


def dead_lettered(stack: HutStack, payload: bytes) -> bool:
    with closing(sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True)) as db:
        digest = hashlib.sha256(payload).hexdigest()
        query = "SELECT 1 FROM rejected_messages WHERE payload_sha256 = ?"
        return db.execute(query, (digest,)).fetchone() is not None


def event_templates(rng: random.Random) -> list[dict[str, Any]]:
    """Valid events that change nothing a resident notices: an unknown label, a denied
    card, a door and a controller report; seqs high, under every database's bound."""

    def base(kind: str) -> dict[str, Any]:
        seq = rng.randrange(10_000, 2**31)
        return {"v": 1, "id": f"fuzz-{new_id()}", "hut": HUT, "seq": seq,
                "ts": utc_now().isoformat(), "session": "fuzz", "type": kind}  # fmt: skip

    return [
        {**base("scan"), "text": "T9999"},
        {**base("card"), "card": "0BADC0DE", "decision": "denied"},
        {**base("door"), "state": "closed"},
        {**base("controller"), "state": "hello", "firmware": "fuzz-1"},
    ]


def test_an_event_seq_beyond_what_databases_store_is_refused(tmp_path: Path) -> None:
    key = TestKeys(tmp_path).key(HUT)
    body = {**event_templates(random.Random(SEED))[0], "seq": 2**63}
    with pytest.raises(ContractError):
        parse_event(key.seal(TopicKind.EVENTS, _json(body)), key=key)


def test_hostile_events_leave_the_server_answering(tmp_path: Path, topic_prefix: str) -> None:
    rng = random.Random(SEED)
    with hut_stack(tmp_path, topic_prefix, server_env=SERVER_ENV) as stack:
        borrow(stack, ZHANG, "T0001")
        stack.wait_all_delivered()
        keys = stack.keys
        link = FakeGatewayLink(stack.broker.url, Topics(topic_prefix), keys.keyring)
        try:
            before, before_forged = dead_letters(stack)
            expected_dead = expected_forged = 0
            expected_ids = set()
            topics = link.topics
            hut = Sealer(rng, key=stack.key, other=keys.key(OTHER))
            messages: list[tuple[str, Seal, bytes]] = []  # (topic's hut, seal, payload)
            for _ in range(PER_TOPIC // 10):
                template = rng.choice(event_templates(rng))
                for body in hostile_bodies(rng, template, count=10, other_hut=OTHER):
                    messages += [(HUT, *copy) for copy in hut.copies(TopicKind.EVENTS, body)]
            # An unknown hut's events, sealed with the key the server derives for it; the
            # last is dead-lettered last (one ingest thread, messages in order).
            ghost = Sealer(rng, key=keys.key(GHOST), other=stack.key)
            ghost_event = _json({**event_templates(rng)[0], "hut": GHOST})
            for body in (b"{}", ghost_event):
                payload = ghost.on_the_wire(TopicKind.EVENTS, body, Seal.RIGHT)
                messages.append((GHOST, Seal.RIGHT, payload))
            assert {seal for _, seal, _ in messages} == {Seal.RIGHT, *REFUSED}

            # What the server must do with each, as its ingest decides: parse with the key
            # of the topic's hut (the seal, then the contract), then the hut must be known.
            for topic_hut, seal, payload in messages:
                try:
                    event = parse_event(payload, key=keys.key(topic_hut))
                except ContractError as exc:
                    expected_dead += 1
                    if seal is not Seal.RIGHT:
                        assert str(exc).startswith("unauthenticated "), (seal, exc)
                        expected_forged += 1
                else:
                    assert seal is Seal.RIGHT, f"an event {seal.value} parsed"
                    if topic_hut == GHOST:
                        expected_dead += 1
                    else:
                        expected_ids.add(event.id)
                link.publish(topics.events(topic_hut), payload)

            acked: set[str] = set()
            last = messages[-1][2]

            def all_answered() -> bool:
                while not link.acks.empty():
                    acked.update(ack.id for ack in link.acks.get_nowait().acks)
                return expected_ids <= acked and dead_lettered(stack, last)

            poll_until(all_answered, timeout=60, what="every hostile event answered")
            dead, forged = dead_letters(stack)
            assert (dead - before, forged - before_forged) == (expected_dead, expected_forged)
            assert stack.server is not None and stack.server.proc.poll() is None

            # A valid event still works, and nothing of the hut's own was lost.
            borrow(stack, LI, "T0003")
            stack.wait_all_delivered()
            open_loans = stack.staff("/api/v1/loans?status=open")["data"]
            assert sorted(loan["tag"] for loan in open_loans) == ["T0001", "T0003"]
        finally:
            link.close()


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


class Publisher:
    """A plain client that only publishes (a subscriber would hear the hostile messages)."""

    def __init__(self, endpoint: MqttEndpoint) -> None:
        self._client = make_client(endpoint, client_id=f"fuzz-pub-{new_id()[:8]}")
        self._client.connect(endpoint.host, endpoint.port)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def gateway_templates(held: int) -> dict[TopicKind, dict[str, Any]]:
    """Valid messages of the server's, to mutate; the allowlist is newer than the ``held``
    one and admits none of the hut's cards: taken, it would lock everyone out."""
    now = utc_now()
    return {
        TopicKind.ACK: {
            "v": 1, "hut": HUT,
            "acks": [{"id": f"fuzz-{new_id()}", "seq": 7, "outcome": "applied",
                      "feedback": {"beep": "ok", "text": "fuzz"}}],
        },
        TopicKind.CMD: {
            "v": 1, "id": f"fuzz-{new_id()}", "hut": HUT, "issued": now.isoformat(),
            "expires": (now + timedelta(minutes=10)).isoformat(), "action": "feedback",
            "feedback": {"beep": "none", "text": "fuzz"},
        },
        TopicKind.ALLOWLIST: {
            "v": 1, "hut": HUT, "version": held + 1, "issued": now.isoformat(),
            "salt": "fuzz-salt-0001", "cards": ["0" * 64], "suspended": ["1" * 64],
        },
    }  # fmt: skip


class GatewayOracle:
    """Whether the gateway must refuse (and count) each message, as it decides: the seal
    and the contract (parse with the hut's key), then for a command whether its id came
    before (a replay, whether that one was obeyed or reported expired) and its expiry."""

    def __init__(self, key: HutKey) -> None:
        self._key = key
        self._seen: set[str] = set()

    def refuses(self, kind: TopicKind, payload: bytes) -> bool:
        try:
            if kind is TopicKind.ACK:
                parse_ack(payload, key=self._key)
            elif kind is TopicKind.ALLOWLIST:
                parse_allowlist(payload, key=self._key)
            else:
                command = parse_command(payload, key=self._key)
                if command.id in self._seen:
                    return True
                self._seen.add(command.id)
                return command.expired(utc_now())
        except ContractError:
            return True
        return False


def test_an_allowlist_version_beyond_the_integer_bound_is_refused(tmp_path: Path) -> None:
    key = TestKeys(tmp_path).key(HUT)
    body = {**gateway_templates(1)[TopicKind.ALLOWLIST], "version": MAX_WIRE_INT + 1}
    with pytest.raises(ContractError):
        parse_allowlist(key.seal(TopicKind.ALLOWLIST, _json(body)), key=key)


def test_hostile_acks_commands_and_allowlists_leave_the_gateway_obeying(
    tmp_path: Path, topic_prefix: str
) -> None:
    rng = random.Random(SEED + 1)
    with hut_stack(tmp_path, topic_prefix, gateway_env=GATEWAY_ENV) as stack:
        borrow(stack, ZHANG, "T0001")
        stack.wait_all_delivered()
        status = poll_until(lambda: stack.watcher.latest, what="a status")
        held = status.allowlist
        assert held is not None
        topics = Topics(topic_prefix)
        hut = Sealer(rng, key=stack.key, other=stack.keys.key(OTHER))
        oracle = GatewayOracle(stack.key)
        link = Publisher(stack.broker.endpoint)
        try:
            expected = 0
            sent: dict[tuple[TopicKind, Seal], int] = {}
            taken = dict.fromkeys(TopicKind, 0)  # validly sealed and obeyed
            templates = gateway_templates(held)
            for kind, template in templates.items():
                for body in hostile_bodies(rng, template, count=PER_TOPIC, other_hut=OTHER):
                    copies = hut.copies(kind, body)
                    if kind is TopicKind.ALLOWLIST and not oracle.refuses(kind, copies[0][1]):
                        # Newer, so the server's seal would have it taken (its right): a
                        # list that parses goes out only as a forgery.
                        copies = copies[1:]
                    for seal, payload in copies:
                        refused = oracle.refuses(kind, payload)
                        assert refused or seal is Seal.RIGHT, f"a {kind} {seal.value} parsed"
                        expected += refused
                        taken[kind] += not refused
                        sent[kind, seal] = sent.get((kind, seal), 0) + 1
                        link.publish(topics.for_hut(HUT, kind), payload)
            # Forged lists that would replace the server's, up to the contract's bound.
            for version in (held + 1, MAX_WIRE_INT):
                body = _json({**templates[TopicKind.ALLOWLIST], "version": version})
                for seal in REFUSED:
                    payload = hut.on_the_wire(TopicKind.ALLOWLIST, body, seal)
                    assert oracle.refuses(TopicKind.ALLOWLIST, payload)
                    expected += 1
                    link.publish(topics.allowlist(HUT), payload)
            assert all(sent.get((kind, seal)) for kind in templates for seal in REFUSED)
            # Some validly sealed acks and commands still parse and are obeyed.
            assert taken[TopicKind.ACK] and taken[TopicKind.CMD]
            assert not taken[TopicKind.ALLOWLIST]

            # A valid command still works; the gateway takes messages in order, so once
            # it has acted on this one it has seen every hostile one before it.
            now = utc_now()
            unlock = Command(
                id=new_id(), hut=HUT, issued=now, expires=now + timedelta(seconds=30),
                action="unlock",
            )  # fmt: skip
            link.publish(topics.cmd(HUT), unlock.sealed(stack.key))
            assert stack.emulator is not None
            stack.emulator.expect(r"^recv unlock", timeout=20)
            # A status from after the unlock counts every message before it.
            unlocked = utc_now()

            def status_after() -> Status | None:
                latest = stack.watcher.latest
                fresh = latest is not None and latest.ts is not None and latest.ts >= unlocked
                return latest if fresh else None

            after = poll_until(status_after, timeout=20, what="a status from after the unlock")
            assert after.counters is not None
            assert after.counters.rejected_messages == expected
            assert stack.gateway is not None and stack.gateway.proc.poll() is None
            assert after.allowlist == held  # the server's list holds

            # A valid event still works (the server's list still admits 李师傅: none of
            # the forged ones, which admit nobody, was taken), nothing lost.
            stack.emulator.expect(r"lock engaged", timeout=20)
            borrow(stack, LI, "T0003")
            stack.wait_all_delivered()
            open_loans = stack.staff("/api/v1/loans?status=open")["data"]
            assert sorted(loan["tag"] for loan in open_loans) == ["T0001", "T0003"]
        finally:
            link.close()
