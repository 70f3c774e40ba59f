"""Loans due → reminder messages: the stages each loan has reached (due soon, due today,
overdue, the escalation to staff), claimed once per (loan, stage), grouped into one message
per member and audience; and staff's "remind now" of a member's open loans.

Exactly once across restarts and processes: a (subject, stage) claim is a primary key
inserted with ON CONFLICT DO NOTHING, so only one process ever owns it, and a loan is in
whichever message won its claim. A stage that suspends borrowing suspends the member in
the transaction that claims it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server import access_actions
from server.domain.reminders import (
    MANUAL_STAGE,
    Audience,
    LoanStage,
    MemberReminder,
    ReminderPolicy,
    Stage,
    StageAction,
    manual_stage_key,
    plan_reminders,
)
from server.reminders.config import ReminderSettings
from server.reminders.targets import DeliveryRow, Recipients, delivery_rows
from server.reminders.types import SweepReport
from server.reminders.zones import hut_zone
from server.storage import reminder_queries as rq
from server.storage.models import Member
from server.storage.reminder_models import MemberContact

log = logging.getLogger(__name__)

_Reminder = MemberReminder[rq.DueLoan]
_Contacts = Mapping[int, Mapping[str, MemberContact]]


class UnknownMemberError(LookupError):
    """No member with that id."""


class NothingToRemindError(ValueError):
    """The member has no open loans."""


class LoanPlanner:
    """Claims every (loan, stage) reached and not claimed before, and writes the messages."""

    def __init__(
        self,
        *,
        settings: ReminderSettings,
        sessions: sessionmaker[Session],
        policy: ReminderPolicy,
        recipients: Recipients,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.policy = policy
        self.quiet = settings.quiet_hours
        self.writer = ReminderWriter(recipients)
        offsets = [s.offset for r in policy.rules for s in r.stages] or [timedelta(0)]
        self._lookback = max(offsets) + timedelta(days=settings.lookback_days)

    def plan(self, now: datetime, *, report: SweepReport) -> SweepReport:
        """Claim every (loan, stage) reached by ``now`` and not claimed before."""
        batch: list[rq.DueLoan] = []
        with self.sessions() as reader:
            loans = rq.stream_due_loans(
                reader, due_from=now - self._lookback, due_to=now + self.policy.horizon
            )
            for loan in loans:
                report.loans_seen += 1
                # Cut batches between members only: a member's loans share one message.
                if len(batch) >= self.settings.batch and loan.member_id != batch[-1].member_id:
                    self._plan_batch(batch, now=now, report=report)
                    batch = []
                batch.append(loan)
        if batch:
            self._plan_batch(batch, now=now, report=report)
        return report

    def _plan_batch(
        self, loans: Sequence[rq.DueLoan], *, now: datetime, report: SweepReport
    ) -> None:
        try:
            with self.sessions.begin() as db:
                groups = rq.member_groups(db, (loan.member_id for loan in loans))
                wanted = self._wanted(loans, groups=groups, now=now)
                if not wanted:
                    return
                todo = _unclaimed(wanted, rq.claimed_stages(db, [loan.subject for loan in loans]))
                if not todo:
                    return
                contacts = rq.contacts_of(db, (w.member_id for w in todo))
                self.writer.write(db, todo, contacts=contacts, now=now, report=report)
        except DBAPIError as exc:
            # E.g. a deadlock with another process planning the same loans: the claims roll
            # back and the next sweep tries again.
            log.warning("reminder planning failed, retried next sweep: %s", exc)

    def _wanted(
        self,
        loans: Sequence[rq.DueLoan],
        *,
        groups: Mapping[int, frozenset[str]],
        now: datetime,
    ) -> list[_Reminder]:
        rules: dict[tuple[str, frozenset[str]], tuple[Stage, ...]] = {}

        def stages_of(loan: rq.DueLoan) -> tuple[Stage, ...]:
            flags = groups.get(loan.member_id, frozenset())
            stages = rules.get((loan.category, flags))
            if stages is None:
                stages = self.policy.stages_for(category=loan.category, groups=flags)
                rules[(loan.category, flags)] = stages
            return stages

        return plan_reminders(
            loans, stages_of=stages_of, zone_of=_zone_of, now=now, quiet=self.quiet
        )

    def remind_now(self, member_id: int, *, now: datetime, report: SweepReport) -> list[int]:
        """Write a reminder of the member's open loans now, quiet hours or not; returns the
        ids of the messages written, for delivering them at once."""
        with self.sessions.begin() as db:
            if db.get(Member, member_id) is None:
                raise UnknownMemberError(member_id)
            loans = rq.open_loans_of(db, member_id)
            if not loans:
                raise NothingToRemindError(member_id)
            manual = self._manual_stage(loans[0].category)
            parts = tuple(LoanStage(loan, manual, now) for loan in loans)
            return self.writer.write(
                db,
                [MemberReminder(member_id, Audience.MEMBER, parts)],
                contacts=rq.contacts_of(db, [member_id]),
                now=now,
                report=report,
                stage_key=manual_stage_key(now),
            )

    def _manual_stage(self, category: str) -> Stage:
        """On the channels of the first member stage of the loan's rule."""
        stages = self.policy.stages_for(category=category)
        channels = next((s.channels for s in stages if s.audience is Audience.MEMBER), ("display",))
        return Stage(MANUAL_STAGE, timedelta(0), "manual", channels)


@dataclass(slots=True)
class _Writes:
    """What the messages of one planning transaction add beside themselves."""

    deliveries: list[DeliveryRow] = field(default_factory=list)
    suspend: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)


class ReminderWriter:
    """Writes reminders: each message with the claims it won, its deliveries, and the
    suspensions its stages call for."""

    def __init__(self, recipients: Recipients) -> None:
        self.recipients = recipients

    def write(
        self,
        db: Session,
        wants: Sequence[_Reminder],
        *,
        contacts: _Contacts,
        now: datetime,
        report: SweepReport,
        stage_key: str | None = None,
    ) -> list[int]:
        """Messages for ``wants``; ``stage_key`` claims every part under that one stage
        (a "remind now"). Returns the ids of the messages written."""
        created = rq.create_messages(
            db, [_new_message(want, stage_key=stage_key) for want in wants], now=now
        )
        writes = _Writes()
        for want, result in zip(wants, created, strict=True):
            if result is not None:
                message_id, won = result
                self._written(want, message_id, won, contacts, stage_key, report, writes)
        rq.add_deliveries(db, writes.deliveries, first_attempt_at=now)
        # Through the rule book, like a staff suspension: the allowlists follow.
        access_actions.suspend_members(db, member_ids=writes.suspend)
        if writes.message_ids:
            log.info("reminders planned: %d message(s)", len(writes.message_ids))
        return writes.message_ids

    def _written(
        self,
        want: _Reminder,
        message_id: int,
        won: Sequence[str],
        contacts: _Contacts,
        stage_key: str | None,
        report: SweepReport,
        writes: _Writes,
    ) -> None:
        mine = _won(want, won)  # another process may have claimed some parts first
        stage = _suspending(mine) or mine.lead
        targets = self.recipients.targets(
            mine.audience, mine.channels, contacts.get(want.member_id, {})
        )
        writes.deliveries.extend(delivery_rows(message_id, targets))
        if StageAction.SUSPEND_BORROWING in stage.actions:
            writes.suspend.append(want.member_id)
            log.warning("member %d suspended by reminder stage %s", want.member_id, stage.name)
        report.planned(message_id, claims=len(won), channels=[t[0] for t in targets])
        writes.message_ids.append(message_id)
        log.debug(
            "reminder %s for member %d (%s): %d loan(s), %d channel(s)",
            stage_key or stage.name,
            want.member_id,
            want.audience.value,
            len(won),
            len(targets),
        )


def _unclaimed(wanted: Iterable[_Reminder], claimed: set[tuple[str, str]]) -> list[_Reminder]:
    """The reminders less the parts an earlier sweep claimed; the rest is one message."""
    todo = []
    for want in wanted:
        fresh = tuple(
            part for part in want.parts if (part.loan.subject, part.stage.name) not in claimed
        )
        if fresh:
            todo.append(MemberReminder(want.member_id, want.audience, fresh))
    return todo


def _new_message(want: _Reminder, *, stage_key: str | None) -> rq.NewMessage:
    return rq.NewMessage(
        stage=stage_key or want.lead.name,
        template=want.lead.template,
        audience=want.audience.value,
        member_id=want.member_id,
        hut_id=want.parts[0].loan.hut_id,
        claims=[_claim(part, stage_key=stage_key) for part in want.parts],
    )


def _zone_of(loan: rq.DueLoan) -> tzinfo:
    return hut_zone(loan.timezone)


def _claim(part: LoanStage[rq.DueLoan], *, stage_key: str | None) -> rq.NewClaim:
    return rq.NewClaim(
        part.loan.subject,
        part.loan.loan_id,
        stage=stage_key or part.stage.name,
        template=part.stage.template,
    )


def _won(want: _Reminder, won: Sequence[str]) -> _Reminder:
    subjects = set(won)
    parts = tuple(part for part in want.parts if part.loan.subject in subjects)
    return MemberReminder(want.member_id, want.audience, parts)


def _suspending(want: _Reminder) -> Stage | None:
    """A part's stage that suspends borrowing, if any."""
    return next(
        (part.stage for part in want.parts if StageAction.SUSPEND_BORROWING in part.stage.actions),
        None,
    )
