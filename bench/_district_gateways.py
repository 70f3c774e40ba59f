"""Light simulated gateways for bench/district.py: hundreds of huts from one process.

Each hut keeps what a real gateway keeps for the wire (hut_gateway/uplink.py): its own
sequence numbers, an outbox of sealed events that leaves only on the server's ack, a
drain window (at most ``window`` events out unacked, in seq order), a resend of what has
waited ``resend_after_s`` for its ack (then twice as long each time), the resend of its
whole window when the server says ``sync``, and the silence of an outage, after which it
drains from its oldest event.
Every message is sealed with the hut's own key (toolhut/hut_keys.py), and acks and
commands are taken only when they are sealed with it. A few paho clients carry the huts
(``HUTS_PER_CLIENT`` each), as a few hundred Pis would, without a few hundred processes.

The replay walks the day's steps (bench/_district_day.py) at the day's compression and
times each event from its recording (its ``ts``) to the arrival of its first ack: the
server commits before it acks, so that is ingest lag as a hut sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from _district_day import DistrictDay, Outage, Step
from _district_seed import card_uid, hut_id, tag

from toolhut.contract import (
    AnyEvent,
    CardDecision,
    CardEvent,
    ContractError,
    DoorEvent,
    DoorState,
    ScanEvent,
    TopicKind,
    Topics,
    new_id,
    parse_ack,
    parse_command,
)
from toolhut.hut_keys import HutKey, HutKeyring
from toolhut.mqtt import MqttEndpoint, make_client

HUTS_PER_CLIENT = 50
RESEND_BACKOFF_MAX = 8  # as the gateway's (hut_gateway/uplink.py): 30 s, 60 s, ... 240 s
TICK_S = 1.0  # the gateway's maintenance tick: resend what went stale, outages begin/end


@dataclass(slots=True)
class Entry:
    """An event in a hut's outbox."""

    seq: int
    id: str
    payload: bytes
    recorded: float  # monotonic, when the gateway wrote it (its ts)
    silent: bool  # recorded while the hut was cut off
    sent_at: float | None = None  # last publish on this connection
    sends: int = 0  # publishes on this connection


@dataclass(slots=True)
class Landed:
    """An event's first ack at its hut."""

    hut: int
    seq: int
    lag_s: float  # recorded -> first ack
    outcome: str
    silent: bool


@dataclass(slots=True)
class Tally:
    """What the replay saw, for the bench's report."""

    landed: list[Landed] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)  # monotonic, one per first ack
    resent: int = 0
    later_acks: int = 0  # acks of events already acked (held, then applied; resends)
    syncs: int = 0
    rejected: int = 0  # acks or commands not sealed with the hut's key
    drains: dict[int, tuple[float, float, int]] = field(default_factory=dict)
    # hut -> (came back, outbox empty, events it held), monotonic


class SimulatedHut:
    """One hut's wire: outbox, window, resends. Callbacks come from paho's threads and
    the replay's; one lock per hut."""

    def __init__(
        self, index: int, *, key: HutKey, topics: Topics, publish: Callable[..., Any],
        window: int, resend_after_s: float, tally: Tally, tally_lock: threading.Lock,
        landed: Callable[[], None],
    ) -> None:  # fmt: skip
        """``landed`` is called after acks took events out of the outbox."""
        self.index = index
        self._landed = landed
        self.hut = hut_id(index)
        self._key = key
        self._topic = topics.events(self.hut)
        self._publish = publish
        self._window = window
        self._resend_after_s = resend_after_s
        self._tally = tally
        self._tally_lock = tally_lock
        self._lock = threading.Lock()
        self._seq = 0
        self._outbox: dict[int, Entry] = {}  # by seq, oldest first
        self._by_id: dict[str, Entry] = {}
        self._acked: set[str] = set()
        self._cursor = 0  # highest seq published on this connection
        self._out = 0  # published and not acked
        self._online = True
        self._sessions: dict[int, str] = {}  # visit -> door session key
        self._drain: tuple[float, int] | None = None  # came back at, with this many held

    @property
    def depth(self) -> int:
        with self._lock:
            return len(self._outbox)

    def record(self, step: Step, *, now: float) -> None:
        with self._lock:
            self._seq += 1
            event = self._event(step, self._seq)
            entry = Entry(self._seq, event.id, event.sealed(self._key), now, not self._online)
            self._outbox[entry.seq] = entry
            self._by_id[entry.id] = entry
            self._pump(now)

    def _event(self, step: Step, seq: int) -> AnyEvent:
        session = self._sessions.setdefault(step.visit, new_id()[:16])
        card = card_uid(self.index, step.member)
        envelope: dict[str, Any] = {"id": new_id(), "hut": self.hut, "seq": seq,
                                    "ts": datetime.now(UTC), "session": session}  # fmt: skip
        if step.kind == "card":
            return CardEvent(**envelope, card=card, decision=CardDecision.UNLOCKED)
        if step.kind == "scan":
            assert step.item is not None
            return ScanEvent(**envelope, text=tag(self.index, step.item), card=card)
        if step.kind == "door_close":
            self._sessions.pop(step.visit, None)
            return DoorEvent(**envelope, state=DoorState.CLOSED)
        return DoorEvent(**envelope, state=DoorState.OPEN)

    def _send(self, entry: Entry, now: float) -> None:
        if entry.sent_at is None:
            self._out += 1
        entry.sent_at = now
        entry.sends += 1
        self._cursor = max(self._cursor, entry.seq)
        self._publish(self._topic, entry.payload, qos=1)

    def _pump(self, now: float) -> None:
        if not self._online:
            return
        for seq in range(self._cursor + 1, self._seq + 1):
            if self._out >= self._window:
                return
            entry = self._outbox.get(seq)
            if entry is not None and entry.sent_at is None:
                self._send(entry, now)

    def on_ack(self, payload: bytes, *, now: float) -> None:
        try:
            batch = parse_ack(payload, key=self._key)
        except ContractError:
            with self._tally_lock:
                self._tally.rejected += 1
            return
        landed: list[Landed] = []
        later = 0
        drained: tuple[float, float, int] | None = None
        with self._lock:
            for ack in batch.acks:
                entry = self._by_id.pop(ack.id, None)
                if entry is None:
                    later += 1
                    continue
                del self._outbox[entry.seq]
                if entry.sent_at is not None:
                    self._out -= 1
                landed.append(
                    Landed(self.index, entry.seq, now - entry.recorded, ack.outcome.value,
                           entry.silent)
                )  # fmt: skip
            if self._drain is not None and not self._outbox:
                drained = (self._drain[0], now, self._drain[1])
                self._drain = None
            self._pump(now)
        with self._tally_lock:
            self._tally.landed.extend(landed)
            self._tally.ack_times.extend(now for _ in landed)
            self._tally.later_acks += later
            if drained is not None:
                self._tally.drains[self.index] = drained
        self._landed()

    def on_command(self, payload: bytes, *, now: float) -> None:
        try:
            command = parse_command(payload, key=self._key)
        except ContractError:
            with self._tally_lock:
                self._tally.rejected += 1
            return
        if command.action != "sync":
            return
        with self._lock:
            if not self._online:
                return
            out = [e for e in self._outbox.values() if e.sent_at is not None]
            for entry in out:
                self._send(entry, now)
        with self._tally_lock:
            self._tally.syncs += 1
            self._tally.resent += len(out)

    def tick(self, now: float) -> None:
        """What the gateway's maintenance tick does: publish again what went stale."""
        with self._lock:
            if not self._online:
                return
            stale = [
                e
                for e in self._outbox.values()
                if e.sent_at is not None
                and now - e.sent_at
                >= self._resend_after_s * min(2 ** (e.sends - 1), RESEND_BACKOFF_MAX)
            ]
            for entry in stale:
                self._send(entry, now)
        if stale:
            with self._tally_lock:
                self._tally.resent += len(stale)

    def go_silent(self) -> None:
        with self._lock:
            self._online = False

    def come_back(self, now: float) -> None:
        """A new connection: whatever was out on the old one may be lost; drain from the
        oldest event in the outbox."""
        with self._lock:
            self._online = True
            for entry in self._outbox.values():
                entry.sent_at = None
                entry.sends = 0
            self._out = 0
            self._cursor = 0
            self._drain = (now, len(self._outbox)) if self._outbox else None
            self._pump(now)


class District:
    """The huts on a few paho clients, and the replay of their day."""

    def __init__(
        self, *, mqtt_url: str, prefix: str, secret: bytes, huts: int, window: int,
        resend_after_s: float,
    ) -> None:  # fmt: skip
        self.tally = Tally()
        self._tally_lock = threading.Lock()
        self._acks = threading.Condition()
        self._topics = Topics(prefix)
        self._endpoint = MqttEndpoint.parse(mqtt_url)
        keyring = HutKeyring(secret)
        self._clients: list[Any] = []
        self.huts: list[SimulatedHut] = []
        self._by_topic: dict[str, tuple[SimulatedHut, TopicKind]] = {}
        for first in range(0, huts, HUTS_PER_CLIENT):
            client = make_client(self._endpoint, client_id=f"district-load-{new_id()[:8]}")
            client.max_inflight_messages_set(HUTS_PER_CLIENT * window)
            client.max_queued_messages_set(0)
            client.on_message = self._on_message
            self._clients.append(client)
            for index in range(first, min(huts, first + HUTS_PER_CLIENT)):
                hut = SimulatedHut(
                    index, key=keyring(hut_id(index)), topics=self._topics,
                    publish=client.publish, window=window, resend_after_s=resend_after_s,
                    tally=self.tally, tally_lock=self._tally_lock, landed=self._on_landed,
                )  # fmt: skip
                self.huts.append(hut)
                for kind in (TopicKind.ACK, TopicKind.CMD):
                    self._by_topic[self._topics.for_hut(hut.hut, kind)] = (hut, kind)

    def connect(self, timeout: float = 30.0) -> None:
        """Connected and subscribed to every hut's acks and commands (SUBACK seen)."""
        pending = threading.Semaphore(0)
        for n, client in enumerate(self._clients):
            client.on_subscribe = lambda *_a: pending.release()
            client.connect(self._endpoint.host, self._endpoint.port, keepalive=30)
            client.loop_start()
            mine = self.huts[n * HUTS_PER_CLIENT : (n + 1) * HUTS_PER_CLIENT]
            topics = [(self._topics.for_hut(h.hut, k), 1) for h in mine
                      for k in (TopicKind.ACK, TopicKind.CMD)]  # fmt: skip
            client.subscribe(topics)
        deadline = time.monotonic() + timeout
        for _ in self._clients:
            if not pending.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise RuntimeError("the load clients were not subscribed in time")

    def close(self) -> None:
        for client in self._clients:
            client.disconnect()
            client.loop_stop()

    def _on_landed(self) -> None:
        with self._acks:
            self._acks.notify_all()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        now = time.monotonic()
        target = self._by_topic.get(message.topic)
        if target is None:
            return
        hut, kind = target
        if kind is TopicKind.ACK:
            hut.on_ack(bytes(message.payload), now=now)
        else:
            hut.on_command(bytes(message.payload), now=now)

    def replay(self, day: DistrictDay, *, compression: float) -> float:
        """Record the day's events on time, outages included; returns the replay's start
        (monotonic). Returns once the last step is recorded and every outage is over."""
        marks: list[tuple[float, int, Outage | None, Step | None]] = []
        for outage in day.outages:
            marks.append((outage.start_s, 0, outage, None))
            marks.append((outage.end_s, 2, outage, None))
        marks.extend((step.at_s, 1, None, step) for step in day.steps)
        marks.sort(key=lambda m: (m[0], m[1]))
        start = time.monotonic()
        next_tick = start + TICK_S
        for at_s, what, outage, step in marks:
            due = start + at_s / compression
            while True:
                now = time.monotonic()
                if now >= next_tick:
                    for hut in self.huts:
                        hut.tick(now)
                    next_tick = now + TICK_S
                if now >= due:
                    break
                time.sleep(min(due, next_tick) - now)  # the schedule, not a wait for state
            if step is not None:
                self.huts[step.hut].record(step, now=now)
            elif outage is not None and what == 0:
                self.huts[outage.hut].go_silent()
            elif outage is not None:
                self.huts[outage.hut].come_back(now)
        return start

    def settle(self, timeout: float) -> bool:
        """Keep ticking until every outbox is empty (True) or ``timeout`` passes: woken by
        each ack, or by the tick."""
        deadline = time.monotonic() + timeout
        next_tick = time.monotonic() + TICK_S
        with self._acks:
            while True:
                now = time.monotonic()
                if all(hut.depth == 0 for hut in self.huts):
                    return True
                if now > deadline:
                    return False
                if now >= next_tick:
                    for hut in self.huts:
                        hut.tick(now)
                    next_tick = now + TICK_S
                self._acks.wait(max(0.0, min(next_tick, deadline) - now))
