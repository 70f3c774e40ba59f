"""Hostile events through the real broker: numbers past what the databases hold, control
characters, huge payloads and floods. Each is dead-lettered alone, with a bounded row and
a bounded number of log lines, and never holds up a hut's valid events."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from server.ingest import DEAD_LETTER_LINES, IngestWorker
from server.ledger import AnyEvent
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import event_log, make_engine
from server.storage.migrate import alembic_config, migrate_engine
from server.storage.models import Hut, RejectedMessage
from server.storage.queries import DEAD_LETTER_PREFIX
from tests.support.gateway_link import FakeGatewayLink, clear_retained
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from toolhut.contract import MAX_WIRE_INT, EventAck, Outcome, TopicKind

from .conftest import T0, MovableClock, running_ingest
from .factories import door, scan

HUT = "demo-hut"
OTHER = "other-hut"
TIMEOUT = 20.0
GAP = timedelta(seconds=30)


@pytest.fixture
def worker(
    mqtt_url: str,
    topic_prefix: str,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
) -> Iterator[IngestWorker]:
    with sessions.begin() as session:
        seed_demo(session, hut_id=HUT)
        session.add(Hut(id=OTHER, name="另一间"))
    settings = ServerSettings(
        mqtt_url=mqtt_url, topic_prefix=topic_prefix, gap_timeout_s=GAP.total_seconds()
    )
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as worker:
        yield worker
    clear_retained(mqtt_url, settings.topics.allowlist(HUT))
    clear_retained(mqtt_url, settings.topics.allowlist(OTHER))


class Acks:
    """Every ack the gateway heard, by event id (an event may be acked twice: queued, then
    applied)."""

    def __init__(self, gateway: FakeGatewayLink) -> None:
        self.gateway = gateway
        self.seen: dict[str, list[EventAck]] = {}

    def wait(self, event: AnyEvent, outcome: Outcome) -> None:
        deadline = time.monotonic() + TIMEOUT
        while outcome not in [a.outcome for a in self.seen.get(event.id, [])]:
            assert time.monotonic() < deadline, f"no {outcome} ack for {event.hut} {event.seq}"
            for ack in self.gateway.next_ack().acks:
                self.seen.setdefault(ack.id, []).append(ack)

    def send(self, event: AnyEvent, outcome: Outcome = Outcome.APPLIED) -> None:
        self.gateway.send(event)
        self.wait(event, outcome)


def _raw(gateway: FakeGatewayLink, event: AnyEvent, **override: object) -> bytes:
    """``event``'s payload with fields the contract's models would not build, sealed with
    its hut's key as that hut would send it: the bounds are checked behind the seal."""
    body = json.dumps({**json.loads(event.to_bytes()), **override}).encode()
    return gateway.keyring(event.hut).seal(TopicKind.EVENTS, body)


def _letters(sessions: sessionmaker[Session]) -> list[RejectedMessage]:
    with sessions() as session:
        return list(session.scalars(select(RejectedMessage).order_by(RejectedMessage.id)))


def _letter_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RejectedMessage)) or 0)


def test_a_seq_past_the_bound_is_dead_lettered_and_the_hut_goes_on(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    acks = Acks(gateway)
    acks.send(door(HUT, 1))
    for seq in (2**63, 2**53):
        gateway.publish(gateway.topics.events(HUT), _raw(gateway, door(HUT, 2), seq=seq))
    acks.send(door(HUT, 2))
    # Another hut's gap still times out and is swept, and this hut goes on after it.
    acks.send(door(OTHER, 1))
    held = door(OTHER, 3)
    acks.send(held, Outcome.QUEUED)
    clock.advance(GAP + timedelta(seconds=1))
    acks.wait(held, Outcome.APPLIED)
    acks.send(door(HUT, 3))
    poll_until(lambda: _letter_count(sessions) == 2, timeout=TIMEOUT, what="2 dead letters")
    for letter in _letters(sessions):
        assert letter.reason.startswith("invalid event: door.seq: "), letter.reason
        assert str(MAX_WIRE_INT) in letter.reason


def test_the_largest_seq_neither_jams_its_hut_nor_the_gap_sweep(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    acks = Acks(gateway)
    acks.send(door(HUT, 1))
    largest = door(HUT, MAX_WIRE_INT)
    acks.send(largest, Outcome.QUEUED)
    acks.send(door(OTHER, 1))
    other_held = door(OTHER, 3)
    acks.send(other_held, Outcome.QUEUED)

    clock.advance(GAP + timedelta(seconds=1))
    acks.wait(largest, Outcome.APPLIED)  # the sweep reports 2..MAX-1 missing and applies it
    acks.wait(other_held, Outcome.APPLIED)
    acks.send(door(HUT, 2))  # late, inside the reported gap: still applied
    acks.send(door(HUT, 1))  # a new event at 1: the gateway started its numbering again
    acks.send(door(HUT, 2))
    acks.send(door(OTHER, 4))
    with sessions() as session:
        gaps = [(g.kind, g.first_seq, g.last_seq) for g in event_log.list_gaps(session)]
    assert ("missing", 2, MAX_WIRE_INT - 1) in gaps
    assert ("missing", 2, 2) in gaps  # the other hut's
    assert any(kind == "reset" and first == 1 for kind, first, _last in gaps), gaps


def test_a_flood_of_hostile_events_is_dead_lettered_quietly_without_delaying_another_hut(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="server.ingest")
    hostile = 1000
    topic = gateway.topics.events(HUT)
    for i in range(hostile):
        gateway.publish(topic, _raw(gateway, door(HUT, 1), seq=2**63 + i))
    acks = Acks(gateway)
    acks.send(door(OTHER, 1))
    poll_until(
        lambda: _letter_count(sessions) == hostile, timeout=TIMEOUT, what="every dead letter"
    )
    # What delayed the valid event before: the batch failed in the database and was
    # retried message by message. Now each is refused by the contract, in its batch.
    reasons = {letter.reason for letter in _letters(sessions)}
    assert all(reason.startswith("invalid event: door.seq") for reason in reasons), reasons
    lines = [r for r in caplog.records if "rejected message" in r.getMessage()]
    assert len(lines) == DEAD_LETTER_LINES
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_nul_in_a_scan_is_dead_lettered_and_the_rest_of_its_batch_applied(
    worker: IngestWorker, gateway: FakeGatewayLink, sessions: sessionmaker[Session]
) -> None:
    acks = Acks(gateway)
    first, second = scan(HUT, 1, "T0001"), scan(HUT, 3, "T0002")
    gateway.send(first)
    gateway.publish(
        gateway.topics.events(HUT), _raw(gateway, scan(HUT, 2, "T0003"), text="T0003\x00")
    )
    gateway.send(second)
    acks.wait(first, Outcome.APPLIED)
    acks.wait(second, Outcome.QUEUED)  # seq 2 was refused, so 3 waits for the gap
    poll_until(lambda: _letter_count(sessions) == 1, timeout=TIMEOUT, what="a dead letter")
    (letter,) = _letters(sessions)
    assert letter.reason == "invalid event: scan.text: Value error, control character U+0000 at 5"
    assert b"T0003\\u0000" in letter.payload


def test_a_megabyte_dead_letter_keeps_a_prefix_its_digest_and_its_size(
    worker: IngestWorker, gateway: FakeGatewayLink, sessions: sessionmaker[Session]
) -> None:
    payload = b'{"v":1,"junk":"' + b"x" * 1_000_000 + b'"}'
    gateway.publish(gateway.topics.events(HUT), payload)
    poll_until(lambda: _letter_count(sessions) == 1, timeout=TIMEOUT, what="a dead letter")
    (letter,) = _letters(sessions)
    assert letter.payload == payload[:DEAD_LETTER_PREFIX]
    assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert letter.payload_size == len(payload)


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_the_migration_cuts_letters_stored_whole_before(empty_engine: Engine) -> None:
    engine = empty_engine
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    whole = b"y" * 100_000
    with engine.begin() as connection:
        connection.execute(
            insert(RejectedMessage.__table__).values(  # type: ignore[arg-type]
                topic="t", payload=whole, reason="old", received_at=T0
            )
        )
    migrate_engine(engine)
    with Session(engine) as session:
        letter = session.scalars(select(RejectedMessage)).one()
        assert letter.payload == whole[:DEAD_LETTER_PREFIX]
        assert (letter.payload_sha256, letter.payload_size) == (
            hashlib.sha256(whole).hexdigest(),
            len(whole),
        )
