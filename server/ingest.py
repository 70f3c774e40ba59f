"""The MQTT ingest worker: gateway events in, ledger updates and acks out (the allowlists
go out on its connection from their own thread: server.allowlist_worker).

Delivery: the broker's QoS 1 message is acknowledged (manual ack) only after the database
commit, and the gateway hears an AckBatch only for committed events, so a crash before the
commit means redelivery, never loss. Whatever arrives, the worker logs, dead-letters and
carries on.

Trust: an event is taken only if sealed with the key of the hut its topic names (derived
from the server secret, ``HutKeyring``); one that is not is dead-lettered ("MAC does not
match") and never acked. Acks and commands go out sealed with the hut's key.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from paho.mqtt.client import MQTT_ERR_SUCCESS
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from server.allowlist_worker import AllowlistWorker
from server.clock import Clock, system_clock
from server.db_retry import with_db_retry
from server.domain import DEFAULT_POLICY, LoanPolicy
from server.handover import Inbox
from server.hut_commands import CommandNotSentError
from server.hut_order import BatchResult
from server.ledger import AnyEvent, apply_batch, release_overdue
from server.metrics import DeadLetterReason, ServerMetrics, dead_letter_reason
from server.settings import ServerSettings
from server.storage import access_changes, queries
from server.storage.kept_connection import KeptConnection
from server.storage.resident_codes import SignInCodes
from toolhut.contract import (
    AckBatch,
    Command,
    ContractError,
    EventAck,
    TopicKind,
    new_id,
    parse_event,
)
from toolhut.hut_keys import HutKeyring
from toolhut.mqtt import connack_ok, make_client
from toolhut.rate_limited_log import RateLimitedLog
from toolhut.rate_limited_log import shown_topic as _shown

log = logging.getLogger(__name__)

MAX_BATCH = 500
ACKS_PER_MESSAGE = 1000  # AckBatch's own limit
DEAD_LETTER_LINES = 20  # per minute of the worker's clock; the rest are counted
_TOPIC_CACHE = 4096  # events topics already parsed; a flood of made-up ones cannot grow it
# Python's cycle collector runs after every 700 new container objects by default. A batch of
# a few hundred events makes a few hundred thousand (ORM rows, snapshots, acks), nearly all
# freed by reference counting as soon as the batch is done, and each run also walks what
# the batch still holds (its session's rows): about a tenth of the worker's time went there.
# So the worker's process collects the youngest generation after this many instead; the
# older generations keep their own thresholds.
GC_YOUNG_THRESHOLD = 10_000


class _Received(NamedTuple):  # a tuple: paho's thread builds one per message
    topic: str
    payload: bytes
    mid: int
    qos: int


class _SyncRequest:
    """Queued on (re)connect: tell every known hut to resend its unacked window."""


_SYNC = _SyncRequest()
_SYNC_EXPIRY = timedelta(seconds=60)

_Item = _Received | _SyncRequest


def tune_gc() -> None:
    """Raise the process's youngest-generation GC threshold to GC_YOUNG_THRESHOLD (never
    lower it); a process forked from this one starts again from the threshold it had."""
    young, *older = gc.get_threshold()
    if young >= GC_YOUNG_THRESHOLD:
        return
    gc.set_threshold(GC_YOUNG_THRESHOLD, *older)
    os.register_at_fork(after_in_child=lambda: gc.set_threshold(young, *older))


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
        keyring: HutKeyring,
        clock: Clock = system_clock,
        policy: LoanPolicy = DEFAULT_POLICY,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics or ServerMetrics()  # the runtime's, or one of its own
        self._keyring = keyring
        self._topics = settings.topics
        self._sessions = sessions
        # The worker thread's batches, each a transaction, on one connection it keeps.
        self._connection = KeptConnection(sessions)
        self._clock = clock
        self._policy = policy
        self._inbox: Inbox[_Item] = Inbox()
        self._event_huts: dict[str, str] = {}  # events topic -> its hut
        self._gap_timeout = timedelta(seconds=settings.gap_timeout_s)
        self._sign_in = SignInCodes(minutes=settings.residents.code_minutes)
        self._next_sweep = 0.0
        self._stop_listening: Callable[[], None] | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # the broker's SUBACK came: events reach us now
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self.allowlists = AllowlistWorker(
            sessions,
            topics=self._topics,
            keyring=keyring,
            clock=clock,
            publisher=lambda: self._client if self.connected else None,
            check_s=settings.allowlist_check_s,
            metrics=self._metrics,
            tags=settings.allowlist_elsewhere_tags,
        )
        self._commands_lock = threading.Lock()  # send_command is called from HTTP threads
        # What this process took from the broker, and the acks it sent, for its stop line:
        # with a shared subscription each process gets only a share of the messages.
        self._taken = 0
        self._acked: Counter[str] = Counter()
        # Strangers decide how many bad messages arrive, not how many lines we write.
        self._rejections = RateLimitedLog(log, limit=DEAD_LETTER_LINES, clock=self._seconds)
        self._failures = RateLimitedLog(
            log, limit=DEAD_LETTER_LINES, level=logging.ERROR, clock=self._seconds
        )

    def _seconds(self) -> float:
        return self._clock().timestamp()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """Until the broker has this worker's events subscription (its SUBACK): an event
        published before then, with no session kept for us, reaches nobody."""
        return self._subscribed.wait(timeout)

    def start(self) -> None:
        tune_gc()
        endpoint = self._settings.mqtt
        client = make_client(endpoint, client_id=self._settings.ingest_client_id)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        # Whoever commits a change of cards or members through this factory, the list follows.
        self._stop_listening = access_changes.listen(self._sessions, self.request_allowlists)
        self.allowlists.start()
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
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        if self._thread is not None:
            self._thread.join(timeout)
        self.allowlists.stop(timeout)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self._connected.clear()
        self._rejections.flush()
        self._failures.flush()
        log.info(
            "ingest worker stopped: %d messages taken, acked %s",
            self._taken,
            " ".join(f"{outcome}={n}" for outcome, n in sorted(self._acked.items())) or "none",
        )

    def send_command(self, command: Command) -> None:
        """Publish ``command`` to its hut now, from any thread (sealed with the hut's key,
        QoS 1, never retained); CommandNotSentError if the broker is not connected or the
        client does not take the message."""
        with self._commands_lock:
            if self._client is None or not self.connected:
                raise CommandNotSentError
            info = self._publish_command(command)
        if info.rc != MQTT_ERR_SUCCESS:
            log.warning("command %s to hut %s not sent (rc %s)", command.id, command.hut, info.rc)
            raise CommandNotSentError
        log.info("sent %s command %s to hut %s", command.action, command.id, command.hut)

    def _publish_command(self, command: Command) -> Any:
        payload = command.sealed(self._keyring(command.hut))
        return self._client.publish(self._topics.cmd(command.hut), payload, qos=1, retain=False)

    def request_allowlists(self, *, force: bool = False) -> None:
        """Called after a commit that changed cards or members (see access_changes)."""
        self.allowlists.request(force=force)

    # paho's network thread: hand over, never touch the database here.

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        if not connack_ok(reason_code):
            log.warning("broker refused the connection: %s", reason_code)
            return
        events = self._events_filter()
        client.subscribe(events, qos=1)
        self._connected.set()
        # A check, not a forced round: what a broker restarted without persistence lost,
        # the gateways' statuses ask for again (AllowlistWorker.reported).
        self.request_allowlists()
        self._inbox.put(_SYNC)
        log.info("ingest worker connected; subscribing to %s", events)

    def _on_subscribe(
        self, _client: Any, _userdata: Any, _mid: Any, reason_codes: Any, _properties: Any
    ) -> None:
        # After the SUBACK: the broker has this process in the group from now on.
        self._subscribed.set()
        log.info("ingest worker subscribed to %s (%s)", self._events_filter(), reason_codes)

    def _events_filter(self) -> str:
        group = self._settings.shared_group
        if group is None:
            return self._topics.all_huts(TopicKind.EVENTS)
        return self._topics.shared(group, TopicKind.EVENTS)

    def _on_connect_fail(self, _client: Any, _userdata: Any) -> None:
        log.warning("cannot reach the broker at %s; retrying", self._settings.mqtt.url)

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("ingest worker lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self._inbox.put(_Received(message.topic, bytes(message.payload), message.mid, message.qos))

    # The worker thread.

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._sweep_when_due()
                batch = self._inbox.take(MAX_BATCH, timeout=0.2)
                if not batch:
                    continue
                try:
                    self._handle(batch)
                except Exception:  # the worker never dies; the gateway resends unacked events
                    log.exception("ingest worker failed on a batch of %d", len(batch))
        finally:
            self._connection.release()

    def _handle(self, batch: list[_Item]) -> None:
        messages = [item for item in batch if isinstance(item, _Received)]
        if messages:
            self._metrics.taken(len(messages))
            self._with_db_retry(lambda: self._ingest(messages))
        if any(isinstance(item, _SyncRequest) for item in batch):
            self._with_db_retry(self._publish_sync)

    def sweep(self) -> int:
        """Apply events held past the gap timeout (huts that sent nothing since);
        returns how many. The worker calls it every ``gap_sweep_s``."""
        with self._sessions() as db, db.begin():
            result = release_overdue(
                db,
                now=self._clock(),
                policy=self._policy,
                gap_timeout=self._gap_timeout,
                sign_in=self._sign_in,
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
        with self._sessions() as db:
            huts = [hut.id for hut in queries.list_huts(db)]
        for command in sync_commands(huts, now=self._clock()):
            self._publish_command(command)
        log.info("asked %d huts to resend what they have not had acked", len(huts))

    def _with_db_retry(self, work: Callable[[], object]) -> None:
        with_db_retry(work, stopping=self._stopping)

    def _ingest(self, messages: list[_Received]) -> None:
        try:
            acks = self._apply(messages)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            if len(messages) == 1:
                self._failures.log(
                    "cannot apply message on %s; dead-lettered",
                    _shown(messages[0].topic),
                    exc_info=True,
                )
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
        rejected: Counter[DeadLetterReason] = Counter()  # counted once committed

        def work(db: Session) -> tuple[list[AnyEvent], BatchResult]:
            rejected.clear()  # a transaction run again counts again
            parsed: list[tuple[_Received, AnyEvent]] = []
            for message in messages:
                try:
                    parsed.append((message, self._parse(message)))
                except ContractError as exc:
                    self._reject(db, message, str(exc), received_at=received_at)
                    rejected[dead_letter_reason(exc)] += 1
            huts = queries.get_huts(db, (event.hut for _message, event in parsed))
            events: list[AnyEvent] = []
            for message, event in parsed:
                if event.hut not in huts:
                    self._reject(db, message, f"unknown hut {event.hut!r}", received_at=received_at)
                    rejected[DeadLetterReason.UNKNOWN_HUT] += 1
                    continue
                events.append(event)
            result = apply_batch(
                db,
                events,
                huts=huts,
                received_at=received_at,
                policy=self._policy,
                gap_timeout=self._gap_timeout,
                sign_in=self._sign_in,
            )
            return events, result

        events, result = self._connection.transaction(work)
        self._metrics.dead_lettered(rejected)
        self._metrics.committed(events, result.acks, committed_at=self._clock())
        return result.acks

    def _parse(self, message: _Received) -> AnyEvent:
        hut = self._event_huts.get(message.topic)
        if hut is None:
            hut, kind = self._topics.parse(message.topic)
            if kind is not TopicKind.EVENTS:
                raise ContractError(f"not an events topic: {message.topic!r}")
            if len(self._event_huts) >= _TOPIC_CACHE:
                self._event_huts.clear()
            self._event_huts[message.topic] = hut
        # Sealed with the topic's hut key and naming that hut, or a ContractError.
        return parse_event(message.payload, key=self._keyring(hut))

    def _reject(
        self, db: Session, message: _Received, reason: str, *, received_at: datetime
    ) -> None:
        self._rejections.log("rejected message on %s: %s", _shown(message.topic), reason)
        queries.add_dead_letter(
            db,
            topic=message.topic,
            payload=message.payload,
            reason=reason,
            received_at=received_at,
        )

    def _dead_letter_alone(self, message: _Received, *, reason: str) -> None:
        with self._sessions() as db, db.begin():
            self._reject(db, message, reason, received_at=self._clock())
        self._metrics.dead_lettered({DeadLetterReason.SERVER_ERROR: 1})
        self._finish([message], {})

    def _finish(self, messages: Iterable[_Received], acks: dict[str, list[EventAck]]) -> None:
        # Both after the commit. The huts' AckBatches first: a resident waits for the
        # feedback in them, and nobody for the broker's acks, which were one paho call
        # (and one wake-up of its network thread) per message of the batch ahead of them.
        # A crash between the two only makes the broker deliver again: acked duplicate.
        for hut, hut_acks in acks.items():
            self._acked.update(ack.outcome.value for ack in hut_acks)
            for start in range(0, len(hut_acks), ACKS_PER_MESSAGE):
                batch = AckBatch(hut=hut, acks=hut_acks[start : start + ACKS_PER_MESSAGE])
                self._client.publish(self._topics.ack(hut), batch.sealed(self._keyring(hut)), qos=1)
                self._metrics.acked(batch.acks)
        for message in messages:
            self._taken += 1
            if message.qos > 0:
                self._client.ack(message.mid, message.qos)
