"""The alarms' loop as a server process runs it: the hut watch every ``watch_s`` and the
notifier every ``poll_s``, on a thread of its own; tests call ``AlarmService.tick`` (or
its parts) with a clock they move instead."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from server.alarms.config import AlarmSettings
from server.alarms.notifier import AlarmNotifier
from server.alarms.watch import HutWatch
from server.clock import Clock, system_clock
from server.loop_thread import LoopThread
from server.reminders.channels import Channel
from server.reminders.config import ReminderSettings

log = logging.getLogger(__name__)


class AlarmService:
    """The watch and the notifier of one process."""

    def __init__(
        self,
        *,
        settings: AlarmSettings,
        reminders: ReminderSettings,
        sessions: sessionmaker[Session],
        channels: Mapping[str, Channel],
        worker_id: str,
    ) -> None:
        self.settings = settings
        self.watch = HutWatch(sessions=sessions, limits=settings.limits)
        self.notifier = AlarmNotifier(
            settings=settings,
            reminders=reminders,
            sessions=sessions,
            channels=channels,
            worker_id=f"{worker_id}/alarms",
        )

    def tick(self, now: datetime, *, watch: bool = True) -> None:
        """One look: the huts' state (if ``watch``), then what is due to staff."""
        if watch:
            self.watch.watch(now)
        self.notifier.notify(now)


class AlarmLoop(LoopThread):
    """Runs the service on a thread until stopped; a failed look is logged and the next
    one tries again (the database may be away for a while)."""

    thread_name = "toolhut-alarms"

    def __init__(self, service: AlarmService, *, clock: Clock = system_clock) -> None:
        super().__init__()
        self.service = service
        self.clock = clock

    def _run(self) -> None:
        settings = self.service.settings
        next_watch = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            watch = started >= next_watch
            if watch:
                next_watch = started + settings.watch_s
            try:
                self.service.tick(self.clock(), watch=watch)
            except Exception:  # the loop outlives a bad look; the next one retries
                log.exception("alarm loop failed; trying again")
            self._stop.wait(max(0.0, settings.poll_s - (time.monotonic() - started)))
