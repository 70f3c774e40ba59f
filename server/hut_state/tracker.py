"""The hut-state tracker: every hut's retained status off the broker into ``hut_states``.

Its own MQTT client (a client id of its own) with an ordinary subscription to every hut's
status topic, not a shared one: every server process sees every hut, so each process's
live stream hears each change at once. Paho's thread only hands the messages over; the
tracker's thread verifies them, and writes what came in one take (at most
1/``coalesce_s`` transactions a second, however many huts publish) in one transaction.

Each tick (``tick_s``) it turns offline the huts whose last status is older than
``stale_s`` (a hung gateway whose connection lives on never sends its last will; after a
move of the clock, only once the huts have had ``stale_s`` to speak again), and looks for
what other processes changed, for the live stream (``feed``).

A status the database cannot take now is kept (the latest per hut) and written when it
can; nothing the broker or a stranger sends stops the thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock, OffsetClock, system_clock
from server.handover import Inbox
from server.hut_state.feed import LiveFeed
from server.hut_state.hub import LiveHub
from server.hut_state.intake import Received, StatusIntake
from server.settings import ServerSettings
from server.storage import hut_states
from server.storage.hut_states import StatusReport
from server.storage.models import Hut
from toolhut.contract import TopicKind
from toolhut.hut_keys import HutKeyring
from toolhut.mqtt import connack_ok, make_client
from toolhut.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

MAX_TAKE = 5000  # statuses in one transaction at most
_RETRY_MAX_S = 30.0
_FAILURE_LINES = 10  # a minute, for the database's failures and the unknown huts


class HutStateTracker:
    def __init__(
        self,
        settings: ServerSettings,
        *,
        sessions: sessionmaker[Session],
        keyring: HutKeyring,
        hub: LiveHub,
        clock: Clock = system_clock,
        on_lists: Callable[[dict[str, int | None]], None] | None = None,
    ) -> None:
        """``on_lists``: told the allowlist version each verified status says its hut
        decides with (the allowlists' thread publishes again what a hut lacks)."""
        self._settings = settings
        self._on_lists = on_lists
        self._config = settings.hut_state
        self._topics = settings.topics
        self._sessions = sessions
        self._clock = clock
        self._stale = timedelta(seconds=self._config.stale_s)
        self._inbox: Inbox[Received] = Inbox()
        self._intake = StatusIntake(self._topics, keyring, seconds=self._seconds)
        self._feed = LiveFeed(hub, lookback=timedelta(seconds=self._config.lookback_s))
        self._unknown = RateLimitedLog(log, limit=_FAILURE_LINES, clock=self._seconds)
        self._failures = RateLimitedLog(
            log, limit=_FAILURE_LINES, level=logging.ERROR, clock=self._seconds
        )
        # Verified, not yet written (the database was away): the latest report per hut.
        self._unwritten: dict[str, StatusReport] = {}
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self._next_tick = 0.0
        # A clock moved forward (demos, tests: server/clock.py) makes every hut's last status
        # look old at once; none is judged quiet until it has had stale_s to speak again.
        self._judge_quiet_from: datetime | None = None
        self._unwatch_clock = (
            clock.on_advance(self._clock_moved) if isinstance(clock, OffsetClock) else None
        )
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def _seconds(self) -> float:
        return time.monotonic()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        endpoint = self._settings.mqtt
        client = make_client(endpoint, client_id=self._config.client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._thread = threading.Thread(target=self._run, name="toolhut-hut-state", daemon=True)
        self._thread.start()
        client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        client.loop_start()
        log.info("hut-state tracker connecting to %s as %s", endpoint.url, self._config.client_id)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._unwatch_clock is not None:
            self._unwatch_clock()
            self._unwatch_clock = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        self._connected.clear()
        self._intake.flush()
        self._unknown.flush()
        self._failures.flush()
        log.info("hut-state tracker stopped")

    # Paho's network thread: hand over, never touch the database here.

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        if not connack_ok(reason_code):
            log.warning("broker refused the hut-state tracker: %s", reason_code)
            return
        statuses = self._topics.all_huts(TopicKind.STATUS)
        client.subscribe(statuses, qos=1)
        self._connected.set()
        log.info("hut-state tracker connected; subscribed to %s", statuses)

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("hut-state tracker lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self._inbox.put(Received(message.topic, bytes(message.payload)))

    # The tracker's thread.

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick_when_due()
                taken = self._take()
                if taken or self._unwritten:
                    self.handle(taken)
            except Exception:  # the thread never dies: the next status says it again
                log.exception("hut-state tracker failed; carrying on")

    def _take(self) -> list[Received]:
        """What came, waiting a little for the first; then up to ``coalesce_s`` more for
        the rest of the burst, so many huts' statuses share one transaction."""
        first = self._inbox.take(MAX_TAKE, timeout=min(0.2, self._config.tick_s))
        if not first or len(first) >= MAX_TAKE or self._config.coalesce_s == 0:
            return first
        if self._stopping.wait(self._config.coalesce_s):
            return first
        return first + self._inbox.take(MAX_TAKE - len(first), timeout=0)

    def handle(self, messages: Sequence[Received]) -> int:
        """Verify ``messages`` and write what they say (with what is still unwritten) in one
        transaction; the live stream hears what changed. Returns the rows written."""
        reports = self._intake.read(messages, received_at=self._clock())
        if reports and self._on_lists is not None:
            self._on_lists({report.hut: report.status.allowlist for report in reports})
        self._unwritten.update((report.hut, report) for report in reports)
        if not self._unwritten or time.monotonic() < self._retry_at:
            return 0  # nothing to write, or the database is given a rest after a failure
        try:
            written = self._write(list(self._unwritten.values()))
        except (OperationalError, InterfaceError) as exc:
            self._retry_later(f"database unavailable ({exc.orig})")
            return 0
        except SQLAlchemyError as exc:
            # Two processes writing a hut's first row at once: the retry finds it there.
            # Anything else fails again, and is dropped then rather than retried forever.
            if self._retry_delay:
                self._failures.log("statuses dropped: %r", exc)
                self._unwritten.clear()
                self._retry_delay = 0.0
            else:
                self._retry_later(repr(exc))
            return 0
        self._unwritten.clear()
        self._retry_delay = 0.0
        return written

    def _retry_later(self, reason: str) -> None:
        self._retry_delay = min(max(self._retry_delay * 2, 0.5), _RETRY_MAX_S)
        self._retry_at = time.monotonic() + self._retry_delay
        self._failures.log(
            "cannot write %d huts' statuses: %s; retrying in %.1fs",
            len(self._unwritten),
            reason,
            self._retry_delay,
        )

    def _write(self, reports: list[StatusReport]) -> int:
        with self._sessions() as db:
            with db.begin():
                wanted = {report.hut for report in reports}
                known = set(db.scalars(select(Hut.id).where(Hut.id.in_(sorted(wanted)))))
                for hut in sorted(wanted - known):
                    self._unknown.log("ignored the status of unknown hut %r", hut)
                recorded = hut_states.record_statuses(
                    db, (report for report in reports if report.hut in known)
                )
            # Also the rows another process wrote first: this process's stream hears it now.
            self._feed.offer_rows(db, recorded.rows)
        return recorded.written

    def _tick_when_due(self) -> None:
        now = time.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + self._config.tick_s
        try:
            self.tick()
        except SQLAlchemyError as exc:  # next tick
            self._failures.log("hut-state tick failed: %r", exc)

    def _clock_moved(self) -> None:
        """From the thread that moved the clock: hold the staleness for stale_s of the new
        time (the huts' last statuses are dated before the move)."""
        self._judge_quiet_from = self._clock() + self._stale
        log.info("clock moved: huts are judged quiet again from %s", self._judge_quiet_from)

    def tick(self) -> list[str]:
        """Turn the huts gone quiet offline, and publish what any process changed lately;
        the huts this call turned offline."""
        now = self._clock()
        held = self._judge_quiet_from is not None and now < self._judge_quiet_from
        with self._sessions() as db:
            with db.begin():
                stale = [] if held else hut_states.mark_stale(db, cutoff=now - self._stale, now=now)
            for hut in stale:
                log.info("hut %s offline: no status for %.0f s", hut, self._config.stale_s)
            self._feed.poll(db)
        return stale
