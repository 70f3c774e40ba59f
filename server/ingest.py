"""The MQTT ingest worker: gateway events in, ledger updates, acks and allowlists out.

Delivery: the broker's QoS 1 message is acknowledged (manual ack) only after the database
commit, and the gateway hears an AckBatch only for committed events, so a crash before the
commit means redelivery, never loss. Whatever arrives, the worker logs, dead-letters and
carries on.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock, system_clock
from server.domain import DEFAULT_POLICY, LoanPolicy
from server.ledger import AnyEvent, apply_batch, release_overdue
from server.settings import ServerSettings
from server.storage import queries
from toolhut.contract import (
    AckBatch,
    Allowlist,
    Command,
    ContractError,
    EventAck,
    TopicKind,
    Topics,
    hash_card,
    new_id,
    parse_event,
)
from toolhut.mqtt import connack_ok, make_client

log = logging.getLogger(__name__)

MAX_BATCH = 500
ACKS_PER_MESSAGE = 1000  # AckBatch's own limit
_DB_RETRY_MAX = 30.0


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, qos: int = ..., retain: bool = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Received:
    topic: str
    payload: bytes
    mid: int
    qos: int


class _AllowlistRequest:
    """Queued so allowlists are built on the worker thread, in order with events."""


class _SyncRequest:
    """Queued on (re)connect: tell every known hut to resend its unacked window."""


class AllowlistNotPublishedError(RuntimeError):
    """The broker did not confirm an allowlist; its transaction is rolled back."""


_ALLOWLISTS = _AllowlistRequest()
_SYNC = _SyncRequest()
_PUBLISH_WAIT_S = 5.0
_SYNC_EXPIRY = timedelta(seconds=60)


def publish_allowlists(
    sessions: sessionmaker[Session], publisher: Publisher, *, topics: Topics, clock: Clock
) -> list[Allowlist]:
    """Publish every hut's allowlist (retained): salted hashes of active members' cards.

    Each list is published, and its PUBACK awaited, while its hut's row is locked: a second
    server publishing at the same time waits, then publishes a higher version after it, so
    the retained list never goes back to an older version."""
    now = clock()
    lists = []
    with sessions() as session, session.begin():
        uids = queries.active_card_uids(session)
        for hut in queries.list_huts(session):
            salt = secrets.token_hex(8)
            # A millisecond floor keeps versions growing even if the database was rebuilt.
            version = queries.next_allowlist_version(
                session, hut.id, at_least=int(now.timestamp() * 1000)
            )
            cards = [hash_card(salt, uid) for uid in uids]
            allowlist = Allowlist(hut=hut.id, version=version, issued=now, salt=salt, cards=cards)
            info = publisher.publish(
                topics.allowlist(hut.id), allowlist.to_bytes(), qos=1, retain=True
            )
            _wait_published(info)
            lists.append(allowlist)
            log.info("published allowlist v%d for hut %s (%d cards)", version, hut.id, len(cards))
    return lists


def _wait_published(info: Any) -> None:
    wait = getattr(info, "wait_for_publish", None)
    if wait is None:
        return
    try:
        wait(_PUBLISH_WAIT_S)
    except (RuntimeError, ValueError) as exc:
        raise AllowlistNotPublishedError(f"allowlist not published: {exc}") from exc
    if not info.is_published():
        raise AllowlistNotPublishedError(f"no PUBACK within {_PUBLISH_WAIT_S} s")


def sync_commands(hut_ids: Iterable[str], *, now: datetime) -> list[Command]:
    """Ask every hut to resend what it has not had acked (the server was away)."""
    expires = now + _SYNC_EXPIRY
    return [
        Command(id=new_id(), hut=hut, issued=now, expires=expires, action="sync") for hut in hut_ids
    ]


class IngestWorker:
    def __init__(
        self,
        settings: ServerSettings,
        *,
        sessions: sessionmaker[Session],
        clock: Clock = system_clock,
        policy: LoanPolicy = DEFAULT_POLICY,
    ) -> None:
        self._settings = settings
        self._topics = settings.topics
        self._sessions = sessions
        self._clock = clock
        self._policy = policy
        self._inbox: queue.Queue[_Received | _AllowlistRequest | _SyncRequest] = queue.Queue()
        self._gap_timeout = timedelta(seconds=settings.gap_timeout_s)
        self._next_sweep = 0.0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        # What this process took from the broker, and the acks it sent, for its stop line:
        # with a shared subscription each process gets only a share of the messages.
        self._taken = 0
        self._acked: Counter[str] = Counter()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        endpoint = self._settings.mqtt
        client = make_client(endpoint, client_id=self._settings.ingest_client_id)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        self._client = client
        self._thread = threading.Thread(target=self._run, name="toolhut-ingest", daemon=True)
        self._thread.start()
        # connect_async + the loop thread keep retrying while the broker is down.
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        log.info(
            "ingest worker connecting to %s as %s", endpoint.url, self._settings.ingest_client_id
        )

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self._connected.clear()
        log.info(
            "ingest worker stopped: %d messages taken, acked %s",
            self._taken,
            " ".join(f"{outcome}={n}" for outcome, n in sorted(self._acked.items())) or "none",
        )

    def request_allowlists(self) -> None:
        """Call after cards or members changed."""
        self._inbox.put(_ALLOWLISTS)

    # paho's network thread: hand over, never touch the database here.

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        if not connack_ok(reason_code):
            log.warning("broker refused the connection: %s", reason_code)
            return
        group = self._settings.shared_group
        events = (
            self._topics.all_huts(TopicKind.EVENTS)
            if group is None
            else self._topics.shared(group, TopicKind.EVENTS)
        )
        client.subscribe(events, qos=1)
        self._connected.set()
        self.request_allowlists()
        self._inbox.put(_SYNC)
        log.info("ingest worker connected; subscribed to %s", events)

    def _on_connect_fail(self, _client: Any, _userdata: Any) -> None:
        log.warning("cannot reach the broker at %s; retrying", self._settings.mqtt.url)

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("ingest worker lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self._inbox.put(_Received(message.topic, bytes(message.payload), message.mid, message.qos))

    # The worker thread.

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._sweep_when_due()
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            try:
                self._handle(batch)
            except Exception:  # the worker never dies; the gateway will resend unacked events
                log.exception("ingest worker failed on a batch of %d", len(batch))

    def _handle(self, batch: list[_Received | _AllowlistRequest | _SyncRequest]) -> None:
        messages = [item for item in batch if isinstance(item, _Received)]
        if messages:
            self._with_db_retry(lambda: self._ingest(messages))
        if any(isinstance(item, _AllowlistRequest) for item in batch):
            self._with_db_retry(
                lambda: publish_allowlists(
                    self._sessions, self._client, topics=self._topics, clock=self._clock
                )
            )
        if any(isinstance(item, _SyncRequest) for item in batch):
            self._with_db_retry(self._publish_sync)

    def sweep(self) -> int:
        """Apply events held past the gap timeout (huts that sent nothing since);
        returns how many. The worker calls it every ``gap_sweep_s``."""
        with self._sessions() as session, session.begin():
            result = release_overdue(
                session, now=self._clock(), policy=self._policy, gap_timeout=self._gap_timeout
            )
        if self._client is not None:
            self._finish([], result.acks)  # the released events' outcomes, to their huts
        return result.released

    def _sweep_when_due(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._settings.gap_sweep_s
        try:
            released = self.sweep()
        except Exception:  # next time; the events stay held in the database meanwhile
            log.exception("gap sweep failed")
            return
        if released:
            log.info("applied %d held events after the gap timeout", released)

    def _publish_sync(self) -> None:
        with self._sessions() as session:
            huts = [hut.id for hut in queries.list_huts(session)]
        for command in sync_commands(huts, now=self._clock()):
            self._client.publish(self._topics.cmd(command.hut), command.to_bytes(), qos=1)
        log.info("asked %d huts to resend what they have not had acked", len(huts))

    def _with_db_retry(self, work: Callable[[], object]) -> None:
        delay = 0.5
        while True:
            try:
                work()
                return
            except (OperationalError, InterfaceError) as exc:
                # The database is away: wait for it rather than drop or dead-letter.
                log.error("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, _DB_RETRY_MAX)

    def _ingest(self, messages: list[_Received]) -> None:
        try:
            acks = self._apply(messages)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            if len(messages) == 1:
                log.exception("cannot apply message on %s; dead-lettered", messages[0].topic)
                self._dead_letter_alone(messages[0], reason=f"server error: {exc!r}")
                return
            # One bad message must not block the others: retry one by one.
            for message in messages:
                self._ingest([message])
            return
        self._finish(messages, acks)

    def _apply(self, messages: list[_Received]) -> dict[str, list[EventAck]]:
        """Apply messages in one transaction; return the acks to send per hut."""
        received_at = self._clock()
        with self._sessions() as session, session.begin():
            parsed: list[tuple[_Received, AnyEvent]] = []
            for message in messages:
                try:
                    parsed.append((message, self._parse(message)))
                except ContractError as exc:
                    self._reject(session, message, str(exc), received_at=received_at)
            huts = queries.get_huts(session, (event.hut for _message, event in parsed))
            events: list[AnyEvent] = []
            for message, event in parsed:
                if event.hut not in huts:
                    self._reject(
                        session, message, f"unknown hut {event.hut!r}", received_at=received_at
                    )
                    continue
                events.append(event)
            result = apply_batch(
                session,
                events,
                huts=huts,
                received_at=received_at,
                policy=self._policy,
                gap_timeout=self._gap_timeout,
            )
        return result.acks

    def _parse(self, message: _Received) -> AnyEvent:
        hut, kind = self._topics.parse(message.topic)
        if kind is not TopicKind.EVENTS:
            raise ContractError(f"not an events topic: {message.topic!r}")
        event = parse_event(message.payload)
        if event.hut != hut:
            raise ContractError(f"payload hut {event.hut!r} differs from topic hut {hut!r}")
        return event

    def _reject(
        self, session: Session, message: _Received, reason: str, *, received_at: datetime
    ) -> None:
        log.warning("rejected message on %s: %s", message.topic, reason)
        queries.add_dead_letter(
            session,
            topic=message.topic,
            payload=message.payload,
            reason=reason,
            received_at=received_at,
        )

    def _dead_letter_alone(self, message: _Received, *, reason: str) -> None:
        with self._sessions() as session, session.begin():
            self._reject(session, message, reason, received_at=self._clock())
        self._finish([message], {})

    def _finish(self, messages: Iterable[_Received], acks: dict[str, list[EventAck]]) -> None:
        for message in messages:
            self._taken += 1
            if message.qos > 0:
                self._client.ack(message.mid, message.qos)
        for hut, hut_acks in acks.items():
            self._acked.update(ack.outcome.value for ack in hut_acks)
            for start in range(0, len(hut_acks), ACKS_PER_MESSAGE):
                batch = AckBatch(hut=hut, acks=hut_acks[start : start + ACKS_PER_MESSAGE])
                self._client.publish(self._topics.ack(hut), batch.to_bytes(), qos=1)
