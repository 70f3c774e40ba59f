"""The hut watch: every server process looks at the huts' last reported state every few
seconds and raises (or clears) what it means: a hut offline longer than the setting, events
piling up in its outbox. Deciding is the rule's (alarm_rules.watch_hut), writing the effect
writer's; raising is idempotent (one incident per hut and kind is the database's unique
index), so every process may watch the same huts."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from server.domain.alarm_rules import Watched, watch_hut
from server.domain.alarms import WatchLimits
from server.domain.changes import AlarmRaised, Effects
from server.storage import alarms
from server.storage.effect_writer import EffectWriter

log = logging.getLogger(__name__)


class HutWatch:
    def __init__(self, *, sessions: sessionmaker[Session], limits: WatchLimits) -> None:
        self.sessions = sessions
        self.limits = limits

    def watch(self, now: datetime) -> tuple[Watched, ...]:
        """What the huts' state starts or ends at ``now``, written; returns the changes."""
        with self.sessions.begin() as db:
            changes = tuple(
                change
                for hut in alarms.hut_conditions(db)
                for change in watch_hut(hut, now=now, limits=self.limits)
            )
            if changes:
                writer = EffectWriter(db)
                writer.apply(Effects(changes))
                writer.finish()
        for change in changes:
            verb = "raised" if isinstance(change, AlarmRaised) else "cleared"
            log.info("hut %s: %s %s by the watch", change.hut_id, change.kind, verb)
        return changes
