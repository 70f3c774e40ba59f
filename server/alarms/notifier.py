"""The staff channel for alarms: a forced open, a tamper or a hut offline is told within
seconds, once per incident, and told again while nobody has acknowledged it.

Through the reminders' machinery, not beside it: each message is a ``reminder_messages``
row (stage ``alarm``, or ``alarm_reminder``) with one delivery per alarm channel, leased,
sent, retried and recorded by the reminders' Deliverer. What this adds is speed and the
claim: the reminder sweep runs every few minutes, this loop every second, and an alarm's
next message (``alarms.notify_due_at``) is claimed by a conditional UPDATE in the
transaction that writes the message, so however many server processes look, one writes
it (and the claim ``alarm:<id>`` / ``alarm#<n>`` in reminder_claims says so again). The
message is delivered right after its commit; one whose send failed, or whose process died
before sending, is picked up by the next look (or the reminder sweep). Staff messages have
no quiet hours.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from server.alarms import texts
from server.alarms.config import AlarmSettings
from server.domain.alarms import ALARM_TEXT
from server.domain.reminders import Audience
from server.reminders import payloads
from server.reminders.channels import Channel
from server.reminders.config import ReminderSettings
from server.reminders.delivery import Deliverer
from server.reminders.payloads import AlertEntry
from server.reminders.targets import Recipients, delivery_rows
from server.reminders.types import SweepReport
from server.reminders.zones import hut_zone
from server.storage import alarms
from server.storage import reminder_queries as rq
from server.storage.alarms import DueNotice
from server.storage.models import DEFAULT_TIMEZONE, Hut

log = logging.getLogger(__name__)

FIRST_STAGE = "alarm"
REMINDER_STAGE = "alarm_reminder"
STAGES = (FIRST_STAGE, REMINDER_STAGE)


def claim_subject(alarm_id: int) -> str:
    return f"alarm:{alarm_id}"


def claim_stage(reminders_sent: int) -> str:
    """The n-th message of an alarm: 0 the first, then each reminder."""
    return f"alarm#{reminders_sent}"


class AlarmNotifier:
    """Claims the alarms whose message is due and sends each right away."""

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
        self.sessions = sessions
        self.recipients = Recipients(channels, reminders.default_locale)
        self.delivery = Deliverer(
            settings=reminders, sessions=sessions, channels=channels, worker_id=worker_id
        )
        missing = [name for name in settings.channels if name not in channels]
        if missing:
            log.info("alarm channel(s) %s not configured: alarms reach nobody there", missing)

    def notify(self, now: datetime) -> SweepReport:
        """Write the messages due by ``now``, then send every alarm message due."""
        report = SweepReport()
        with self.sessions.begin() as db:
            for notice in alarms.due_notices(db, now=now):
                self._claim(db, notice, now=now, report=report)
        with self.sessions() as db:
            pending = alarms.pending_messages(db, now=now, stages=STAGES)
        if pending:
            self.delivery.deliver(now, report=report, message_ids=pending)
        return report

    def _claim(self, db: Session, notice: DueNotice, *, now: datetime, report: SweepReport) -> None:
        sent = 0 if notice.first else notice.reminders_sent + 1
        next_due = self.settings.next_reminder(sent=sent, now=now)
        if not alarms.claim_notice(db, notice, now=now, next_due=next_due):
            return  # another process's, or acknowledged or resolved meanwhile
        stage = FIRST_STAGE if notice.first else REMINDER_STAGE
        message = rq.NewMessage(
            stage=stage,
            template=stage,
            audience=Audience.STAFF.value,
            member_id=None,
            hut_id=notice.hut_id,
            claims=[rq.NewClaim(claim_subject(notice.alarm_id), None, stage=claim_stage(sent))],
        )
        [created] = rq.create_messages(db, [message], now=now)
        if created is None:
            return
        message_id, _won = created
        hut = db.get(Hut, notice.hut_id)
        zone = hut_zone(DEFAULT_TIMEZONE if hut is None else hut.timezone)
        rq.set_payload(db, message_id, payloads.to_json([entry(notice, zone)]))
        targets = self.recipients.targets(Audience.STAFF, self.settings.channels, {})
        rq.add_deliveries(db, delivery_rows(message_id, targets), first_attempt_at=now)
        report.planned(message_id, claims=1, channels=[t[0] for t in targets])
        log.info(
            "alarm %d (%s at hut %s): %s on %d channel(s)",
            notice.alarm_id,
            notice.kind,
            notice.hut_id,
            "told" if notice.first else f"reminder {sent}",
            len(targets),
        )


def entry(notice: DueNotice, zone: tzinfo) -> AlertEntry:
    """The message's line: the alarm's name, when it was raised, its number and state."""
    parts: list[str] = [texts.NUMBER.format(id=notice.alarm_id)]
    if notice.active:
        parts.append(texts.STILL_ACTIVE)
    elif notice.cleared_at is not None:
        ended = notice.cleared_at.astimezone(zone).strftime(texts.WHEN)
        parts.append(texts.ENDED.format(at=ended))
    if notice.repeats:
        parts.append(texts.REPEATED.format(count=notice.repeats))
    return AlertEntry(
        name_zh=ALARM_TEXT[notice.kind],
        when=notice.raised_at,
        detail_zh=texts.SEPARATOR.join(parts),
    )


__all__ = ["STAGES", "AlarmNotifier", "claim_stage", "claim_subject", "entry"]
