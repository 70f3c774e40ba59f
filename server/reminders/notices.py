"""The ledger's notices → messages: every notification request (a reservation ready for
pickup, or any other kind with the ledger's own text) claimed once and sent to the member
where they hear their reminders, or to staff when no member is named.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server.domain.reminders import (
    MEMBER_CHANNELS,
    STAFF_CHANNELS,
    Audience,
    ReminderPolicy,
    Stage,
)
from server.reminders import payloads
from server.reminders.payloads import NoticeEntry
from server.reminders.targets import DeliveryRow, Recipients, delivery_rows
from server.reminders.templates import known_template
from server.reminders.types import SweepReport
from server.storage import reminder_queries as rq

log = logging.getLogger(__name__)


class NoticePlanner:
    """Plans a message for each unsent notification request of the ledger; ``sent_at`` is
    set by delivery when a channel has delivered it."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        policy: ReminderPolicy,
        recipients: Recipients,
        lookback: timedelta,
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.recipients = recipients
        self.lookback = lookback

    def plan(self, now: datetime, *, report: SweepReport) -> SweepReport:
        """A message for every notice created within the lookback, claimed once per request."""
        try:
            with self.sessions.begin() as db:
                notices = rq.unsent_notices(db, since=now - self.lookback)
                claimed = rq.claimed_stages(db, [n.subject for n in notices])
                fresh = [n for n in notices if (n.subject, n.kind) not in claimed]
                if fresh:
                    self._write(db, fresh, now=now, report=report)
        except DBAPIError as exc:
            log.warning("notice planning failed, retried next sweep: %s", exc)
        return report

    def _write(
        self, db: Session, notices: Sequence[rq.Notice], *, now: datetime, report: SweepReport
    ) -> None:
        members = [n.member_id for n in notices if n.member_id is not None]
        groups = rq.member_groups(db, members)
        contacts = rq.contacts_of(db, members)
        stages = [self._stage(n, groups=groups) for n in notices]
        created = rq.create_messages(
            db, [_new_message(n, stage) for n, stage in zip(notices, stages, strict=True)], now=now
        )
        deliveries: list[DeliveryRow] = []
        for notice, stage, result in zip(notices, stages, created, strict=True):
            if result is None:
                continue
            message_id, _ = result
            rq.set_payload(db, message_id, payloads.to_json([_entry(notice)]))
            targets = self.recipients.targets(
                stage.audience, stage.channels, contacts.get(notice.member_id or 0, {})
            )
            deliveries.extend(delivery_rows(message_id, targets))
            report.planned(message_id, claims=0, channels=[t[0] for t in targets])
            report.notices += 1
            log.info(
                "notice %s (request %d) for member %s: %d channel(s)",
                notice.kind,
                notice.request_id,
                notice.member_id,
                len(targets),
            )
        rq.add_deliveries(db, deliveries, first_attempt_at=now)

    def _stage(self, notice: rq.Notice, *, groups: Mapping[int, frozenset[str]]) -> Stage:
        template = notice.kind if known_template(notice.kind) else "notice"
        if notice.member_id is None:
            return Stage(notice.kind, timedelta(0), template, STAFF_CHANNELS, Audience.STAFF)
        # The member hears it where they hear their reminders.
        stages = self.policy.stages_for(
            category=notice.category or "", groups=groups.get(notice.member_id, ())
        )
        channels = tuple(
            dict.fromkeys(c for s in stages if s.audience is Audience.MEMBER for c in s.channels)
        )
        return Stage(notice.kind, timedelta(0), template, channels or MEMBER_CHANNELS)


def _new_message(notice: rq.Notice, stage: Stage) -> rq.NewMessage:
    return rq.NewMessage(
        stage=notice.kind,
        template=stage.template,
        audience=stage.audience.value,
        member_id=notice.member_id,
        hut_id=notice.hut_id,
        claims=[rq.NewClaim(notice.subject, None)],
    )


def _entry(notice: rq.Notice) -> NoticeEntry:
    return NoticeEntry(
        notice_id=notice.request_id,
        name_zh=notice.item_zh or notice.text,
        name_en=notice.item_en,
        when=notice.hold_until,
        display=notice.text,
        detail_zh=notice.text,
    )
