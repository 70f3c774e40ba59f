"""The reminder sweep: find loans that reached a stage, claim each (loan, stage) once in
the database, group a member's loans into one message per sweep (each loan at its own
stage), and deliver it on every channel.

Exactly once across restarts and processes: a (subject, stage) claim is a primary key
inserted with ON CONFLICT DO NOTHING, so only one process ever owns it; each channel's
delivery is leased (claimed_by, claimed_until) before sending, outside any transaction, and
marked afterwards. A process that dies mid-send leaves a lease that runs out, and another
process sends again: at least once per channel for crashes, exactly once otherwise.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.clock import Clock, system_clock
from server.domain.reminders import (
    EXPIRY_STAGE,
    MANUAL_STAGE,
    MEMBER_CHANNELS,
    RESTOCK_STAGE,
    STAFF_CHANNELS,
    Audience,
    LoanStage,
    MemberReminder,
    ReminderLine,
    ReminderPolicy,
    Stage,
    StageAction,
    manual_stage_key,
    plan_reminders,
)
from server.reminders.channels import (
    Channel,
    DeliveryError,
    Outgoing,
    StoredChannel,
    is_shared,
    stored,
)
from server.reminders.config import ReminderSettings
from server.reminders.templates import known_template, render
from server.storage import reminder_queries as rq
from server.storage.models import DEFAULT_TIMEZONE, Member
from server.storage.reminder_models import DeliveryStatus, ReminderDelivery, ReminderMessage

log = logging.getLogger(__name__)


class UnknownMemberError(LookupError):
    """No member with that id."""


class NothingToRemindError(ValueError):
    """The member has no open loans."""


@dataclass(frozen=True, slots=True)
class StockAlert:
    """One consumable to restock or item about to expire, as the ledger reports it.

    ``key`` names the occurrence, e.g. "consumable:12:restock:2026-11-27": a new key is a
    new alert, the same key is never sent twice."""

    key: str
    hut_id: str
    name_zh: str
    name_en: str = ""
    when: datetime | None = None
    detail_zh: str = ""  # e.g. "剩 2，最低 5"
    detail_en: str = ""


class StockAlertSource(Protocol):
    """What the scheduler asks the ledger's consumables about on every sweep."""

    def restock_needed(self, session: Session, *, now: datetime) -> Iterable[StockAlert]: ...

    def expiring(self, session: Session, *, now: datetime) -> Iterable[StockAlert]: ...


@dataclass(slots=True)
class SweepReport:
    loans_seen: int = 0
    messages: int = 0
    claims: int = 0
    deliveries: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    holds_expired: int = 0
    notices: int = 0
    message_ids: list[int] = field(default_factory=list)


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using %s", name, DEFAULT_TIMEZONE)
        return ZoneInfo(DEFAULT_TIMEZONE)


_Reminder = MemberReminder[rq.DueLoan]


class ReminderService:
    def __init__(
        self,
        *,
        settings: ReminderSettings,
        sessions: sessionmaker[Session],
        channels: Mapping[str, Channel],
        policy: ReminderPolicy,
        worker_id: str | None = None,
        alerts: StockAlertSource | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.channels = channels
        self.policy = policy
        self.worker_id = worker_id or new_worker_id()
        self.alerts = alerts
        self.quiet = settings.quiet_hours
        offsets = [s.offset for r in policy.rules for s in r.stages] or [timedelta(0)]
        self._lookback = max(offsets) + timedelta(days=settings.lookback_days)
        for name in sorted({c for r in policy.rules for s in r.stages for c in s.channels}):
            if name not in channels:
                log.info("reminder channel %r is named by the policy but not configured", name)

    # --- the sweep ------------------------------------------------------------------------

    def sweep_once(self, now: datetime) -> SweepReport:
        report = SweepReport()
        self.expire_holds(now, report=report)
        self.plan(now, report=report)
        self.plan_notices(now, report=report)
        self.plan_stock_alerts(now, report=report)
        self.deliver(now, report=report)
        return report

    def expire_holds(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        """Release holds past their time; the ledger passes the item to the next in line,
        whose "ready" notice this same sweep then sends."""
        report = report or SweepReport()
        try:
            with self.sessions.begin() as session:
                expired = staff_actions.expire_holds(session, now=now)
        except DBAPIError as exc:
            log.warning("releasing expired holds failed, retried next sweep: %s", exc)
            return report
        if expired:
            log.info("released %d expired hold(s)", expired)
        report.holds_expired += expired
        return report

    def plan(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        """Claim every (loan, stage) reached by ``now`` and not claimed before."""
        report = report or SweepReport()
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
            with self.sessions.begin() as session:
                groups = rq.member_groups(session, (loan.member_id for loan in loans))
                wanted = self._wanted(loans, groups=groups, now=now)
                if not wanted:
                    return
                claimed = rq.claimed_stages(session, [loan.subject for loan in loans])
                todo = []
                for want in wanted:
                    # A part claimed by an earlier sweep stays out; the rest is one message.
                    fresh = tuple(
                        part
                        for part in want.parts
                        if (part.loan.subject, part.stage.name) not in claimed
                    )
                    if fresh:
                        todo.append(MemberReminder(want.member_id, want.audience, fresh))
                if not todo:
                    return
                contacts = rq.contacts_of(session, (w.member_id for w in todo))
                self._create(session, todo, contacts=contacts, now=now, report=report)
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

    def _create(
        self,
        session: Session,
        wants: Sequence[_Reminder],
        *,
        contacts: Mapping[int, Mapping[str, Any]],
        now: datetime,
        report: SweepReport,
        stage_key: str | None = None,
    ) -> list[int]:
        """Messages for ``wants``, each with the claims it won, and their deliveries."""
        created = rq.create_messages(
            session,
            [
                rq.NewMessage(
                    stage=stage_key or want.lead.name,
                    template=want.lead.template,
                    audience=want.audience.value,
                    member_id=want.member_id,
                    hut_id=want.parts[0].loan.hut_id,
                    claims=[_claim(part, stage_key=stage_key) for part in want.parts],
                )
                for want in wants
            ],
            now=now,
        )
        message_ids = []
        suspend = []
        deliveries: list[tuple[int, str, str | None, str]] = []
        for want, result in zip(wants, created, strict=True):
            if result is None:
                continue
            message_id, won = result
            mine = _won(want, won)  # another process may have claimed some parts first
            stage = _suspending(mine) or mine.lead
            targets = self._targets(mine.audience, mine.channels, contacts.get(want.member_id, {}))
            deliveries.extend((message_id, *target) for target in targets)
            if StageAction.SUSPEND_BORROWING in stage.actions:
                suspend.append(want.member_id)
                log.warning("member %d suspended by reminder stage %s", want.member_id, stage.name)
            report.messages += 1
            report.claims += len(won)
            report.deliveries += len(targets)
            message_ids.append(message_id)
            log.debug(
                "reminder %s for member %d (%s): %d loan(s), %d channel(s)",
                stage_key or stage.name,
                want.member_id,
                want.audience.value,
                len(won),
                len(targets),
            )
        rq.add_deliveries(session, deliveries, first_attempt_at=now)
        rq.suspend_members(session, suspend)
        if message_ids:
            log.info("reminders planned: %d message(s)", len(message_ids))
        report.message_ids.extend(message_ids)
        return message_ids

    def _targets(
        self, audience: Audience, channels: Iterable[str], contacts: Mapping[str, Any]
    ) -> list[tuple[str, str | None, str]]:
        targets: list[tuple[str, str | None, str]] = []
        for name in channels:
            channel = self.channels.get(name)
            if channel is None:
                continue
            if channel.needs_address and audience is Audience.MEMBER:
                contact = contacts.get(name)
                if contact is not None:
                    targets.append((name, contact.address, contact.locale))
            elif not channel.needs_address:
                targets.append((name, None, self.settings.default_locale))
        return targets

    def plan_stock_alerts(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        report = report or SweepReport()
        if self.alerts is None:
            return report
        try:
            with self.sessions.begin() as session:
                for stage, found in (
                    (RESTOCK_STAGE, self.alerts.restock_needed(session, now=now)),
                    (EXPIRY_STAGE, self.alerts.expiring(session, now=now)),
                ):
                    alerts = list(found)
                    claimed = rq.claimed_stages(session, [a.key for a in alerts])
                    by_hut: dict[str, list[StockAlert]] = defaultdict(list)
                    for alert in alerts:
                        if (alert.key, stage.name) not in claimed:
                            by_hut[alert.hut_id].append(alert)
                    for hut_id, alerts in sorted(by_hut.items()):
                        self._create_alert(session, stage, hut_id, alerts, now=now, report=report)
        except DBAPIError as exc:
            log.warning("stock alert planning failed, retried next sweep: %s", exc)
        return report

    def _create_alert(
        self,
        session: Session,
        stage: Stage,
        hut_id: str,
        alerts: Sequence[StockAlert],
        *,
        now: datetime,
        report: SweepReport,
    ) -> None:
        message = rq.NewMessage(
            stage=stage.name,
            template=stage.template,
            audience=stage.audience.value,
            member_id=None,
            hut_id=hut_id,
            claims=[rq.NewClaim(alert.key, None) for alert in alerts],
        )
        [created] = rq.create_messages(session, [message], now=now)
        if created is None:
            return
        message_id, won = created
        kept = set(won)
        row = session.get(ReminderMessage, message_id)
        assert row is not None
        row.payload = [
            {
                "name_zh": a.name_zh,
                "name_en": a.name_en,
                "when": None if a.when is None else a.when.isoformat(),
                "detail_zh": a.detail_zh,
                "detail_en": a.detail_en,
            }
            for a in alerts
            if a.key in kept
        ]
        targets = self._targets(stage.audience, stage.channels, {})
        rq.add_deliveries(
            session, [(message_id, *target) for target in targets], first_attempt_at=now
        )
        report.messages += 1
        report.claims += len(won)
        report.deliveries += len(targets)
        report.message_ids.append(message_id)

    # --- the ledger's notification requests ---------------------------------------------------

    def plan_notices(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        """A message for every notification request of the ledger (e.g. reservation_ready),
        claimed once per request; ``sent_at`` is set when a channel has delivered it."""
        report = report or SweepReport()
        since = now - timedelta(days=self.settings.lookback_days)
        try:
            with self.sessions.begin() as session:
                notices = rq.unsent_notices(session, since=since)
                claimed = rq.claimed_stages(session, [n.subject for n in notices])
                fresh = [n for n in notices if (n.subject, n.kind) not in claimed]
                if fresh:
                    self._create_notices(session, fresh, now=now, report=report)
        except DBAPIError as exc:
            log.warning("notice planning failed, retried next sweep: %s", exc)
        return report

    def _create_notices(
        self, session: Session, notices: Sequence[rq.Notice], *, now: datetime, report: SweepReport
    ) -> None:
        members = [n.member_id for n in notices if n.member_id is not None]
        groups = rq.member_groups(session, members)
        contacts = rq.contacts_of(session, members)
        stages = [self._notice_stage(n, groups=groups) for n in notices]
        created = rq.create_messages(
            session,
            [
                rq.NewMessage(
                    stage=n.kind,
                    template=stage.template,
                    audience=stage.audience.value,
                    member_id=n.member_id,
                    hut_id=n.hut_id,
                    claims=[rq.NewClaim(n.subject, None)],
                )
                for n, stage in zip(notices, stages, strict=True)
            ],
            now=now,
        )
        deliveries: list[tuple[int, str, str | None, str]] = []
        for notice, stage, result in zip(notices, stages, created, strict=True):
            if result is None:
                continue
            message_id, _ = result
            row = session.get(ReminderMessage, message_id)
            assert row is not None
            row.payload = [
                {
                    "notice_id": notice.request_id,
                    "name_zh": notice.item_zh or notice.text,
                    "name_en": notice.item_en,
                    "when": None if notice.hold_until is None else notice.hold_until.isoformat(),
                    "display": notice.text,
                    "detail_zh": notice.text,
                }
            ]
            targets = self._targets(
                stage.audience, stage.channels, contacts.get(notice.member_id or 0, {})
            )
            deliveries.extend((message_id, *target) for target in targets)
            report.messages += 1
            report.notices += 1
            report.deliveries += len(targets)
            report.message_ids.append(message_id)
            log.info(
                "notice %s (request %d) for member %s: %d channel(s)",
                notice.kind,
                notice.request_id,
                notice.member_id,
                len(targets),
            )
        rq.add_deliveries(session, deliveries, first_attempt_at=now)

    def _notice_stage(self, notice: rq.Notice, *, groups: Mapping[int, frozenset[str]]) -> Stage:
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

    # --- staff "remind now" -----------------------------------------------------------------

    def remind_now(self, member_id: int, *, now: datetime) -> SweepReport:
        """Send a reminder of the member's open loans now, quiet hours or not."""
        report = SweepReport()
        with self.sessions.begin() as session:
            if session.get(Member, member_id) is None:
                raise UnknownMemberError(member_id)
            loans = rq.open_loans_of(session, member_id)
            if not loans:
                raise NothingToRemindError(member_id)
            stages = self.policy.stages_for(category=loans[0].category)
            channels = next(
                (s.channels for s in stages if s.audience is Audience.MEMBER), ("display",)
            )
            manual = Stage(MANUAL_STAGE, timedelta(0), "manual", channels)
            contacts = rq.contacts_of(session, [member_id])
            parts = tuple(LoanStage(loan, manual, now) for loan in loans)
            want = MemberReminder(member_id, Audience.MEMBER, parts)
            message_ids = self._create(
                session,
                [want],
                contacts=contacts,
                now=now,
                report=report,
                stage_key=manual_stage_key(now),
            )
        if message_ids:
            self.deliver(now, report=report, message_ids=message_ids)
        return report

    # --- delivery -----------------------------------------------------------------------------

    def deliver(
        self,
        now: datetime,
        *,
        report: SweepReport | None = None,
        message_ids: Sequence[int] | None = None,
    ) -> SweepReport:
        """Send every delivery that is due and not leased by another worker, a chunk at a
        time: lease the chunk, load it in a few queries, send, then record every outcome
        (and write the hut display lines) in one transaction."""
        report = report or SweepReport()
        chunk = self.settings.deliver_chunk
        until = now + timedelta(seconds=self.settings.lease_s)
        # Real time, not ``now`` (tests fix that): slow sends must give back what they have
        # not sent well before the lease runs out, or a second worker would send it too.
        deadline = time.monotonic() + self.settings.lease_s / 2
        with self.sessions() as session:
            zones = rq.hut_timezones(session)
        while True:
            with self.sessions.begin() as session:
                leased = rq.lease_deliveries(
                    session,
                    now=now,
                    worker=self.worker_id,
                    until=until,
                    limit=chunk,
                    message_ids=message_ids,
                )
            if not leased:
                return report
            done = self._deliver_chunk(
                leased, now=now, report=report, zones=zones, deadline=deadline
            )
            if not done or len(leased) < chunk:
                return report

    def _deliver_chunk(
        self,
        delivery_ids: Sequence[int],
        *,
        now: datetime,
        report: SweepReport,
        zones: Mapping[str, str],
        deadline: float,
    ) -> bool:
        """False if it stopped early (out of time, or the outcomes could not be recorded)."""
        with self.sessions() as session:
            deliveries = rq.load_deliveries(session, delivery_ids)
            live = rq.live_notices(
                session, [i for d in deliveries for i in _notice_ids(d.message)], now=now
            )
            jobs = [self._prepare(d, now=now, zones=zones, live=live) for d in deliveries]
        outcomes: list[rq.Outcome] = []
        stored_sends: list[tuple[StoredChannel, Outgoing]] = []
        notices: list[int] = []
        done = True
        for job in jobs:
            if job.outcome is not None:
                outcomes.append(job.outcome)
                self._count(job, job.outcome, report)
                continue
            if time.monotonic() > deadline:
                outcomes.append(job.give_back())
                done = False
                continue
            outcome = self._send(job, now=now, stored_sends=stored_sends)
            outcomes.append(outcome)
            self._count(job, outcome, report)
            if outcome.status == DeliveryStatus.SENT:
                notices.extend(job.notice_ids)
        try:
            with self.sessions.begin() as session:
                for channel, outgoing in stored_sends:
                    channel.send_in(session, outgoing)
                rq.record_outcomes(session, outcomes, worker=self.worker_id, now=now)
                rq.mark_notices_sent(session, notices, now=now)
        except DBAPIError as exc:
            # The leases run out and the chunk is tried again: at least once, not lost (and
            # the display lines, rolled back with the outcomes, still exactly once).
            log.error("could not record %d reminder deliveries: %s", len(outcomes), exc)
            return False
        return done

    def _prepare(
        self,
        delivery: ReminderDelivery,
        *,
        now: datetime,
        zones: Mapping[str, str],
        live: set[int],
    ) -> _Job:
        message = delivery.message
        tz = _zone(zones.get(message.hut_id or "", DEFAULT_TIMEZONE))
        channel = self.channels.get(delivery.channel)
        job = _Job(delivery, message.stage, channel, notice_ids=_notice_ids(message))
        lines = self._lines(message, tz=tz, live=live)
        if not lines:
            job.outcome = job.finish(DeliveryStatus.CANCELLED, now=now)
        elif (
            message.audience == Audience.MEMBER
            and not message.stage.startswith(MANUAL_STAGE + "@")
            and not job.notice_ids  # the hold's clock runs at night too: tell them now
            and self.quiet.contains(now, tz=tz)
        ):
            # A reminder (or a retry) that came due in quiet hours: wait for the morning,
            # without counting the attempt.
            job.outcome = job.finish(
                DeliveryStatus.PENDING,
                now=now,
                error="postponed: quiet hours",
                retry_at=self.quiet.next_end(now, tz=tz),
                refund=True,
            )
        elif channel is None:
            job.outcome = self._failed(
                job, now=now, error=f"channel {delivery.channel!r} is not configured"
            )
        else:
            job.outgoing = self._outgoing(message, delivery, channel, lines=lines, now=now)
        return job

    def _send(
        self,
        job: _Job,
        *,
        now: datetime,
        stored_sends: list[tuple[StoredChannel, Outgoing]],
    ) -> rq.Outcome:
        assert job.channel is not None and job.outgoing is not None
        in_db = stored(job.channel)
        if in_db is not None:
            stored_sends.append((in_db, job.outgoing))
            return job.finish(DeliveryStatus.SENT, now=now)
        try:
            job.channel.send(job.outgoing)
        except DeliveryError as exc:
            return self._failed(job, now=now, error=str(exc))
        except Exception as exc:  # a channel bug must not stop the other deliveries
            log.exception("reminder channel %s crashed", job.channel_name)
            return self._failed(job, now=now, error=f"{type(exc).__name__}: {exc}")
        return job.finish(DeliveryStatus.SENT, now=now)

    def _failed(self, job: _Job, *, now: datetime, error: str) -> rq.Outcome:
        if job.attempts >= self.settings.max_attempts:
            log.error(
                "reminder delivery %d (%s, %s) given up after %d attempts: %s",
                job.delivery_id,
                job.stage,
                job.channel_name,
                job.attempts,
                error,
            )
            return job.finish(DeliveryStatus.DEAD, now=now, error=error)
        retry_at = now + self.settings.retry_delay(job.attempts)
        log.warning(
            "reminder delivery %d (%s, %s) attempt %d failed, retry at %s: %s",
            job.delivery_id,
            job.stage,
            job.channel_name,
            job.attempts,
            retry_at,
            error,
        )
        return job.finish(DeliveryStatus.PENDING, now=now, error=error, retry_at=retry_at)

    @staticmethod
    def _count(job: _Job, outcome: rq.Outcome, report: SweepReport) -> None:
        if outcome.status == DeliveryStatus.SENT:
            report.sent += 1
            log.info(
                "reminder delivery %d sent: %s via %s to member %s",
                job.delivery_id,
                job.stage,
                job.channel_name,
                job.member_id,
            )
        elif outcome.status == DeliveryStatus.CANCELLED:
            report.cancelled += 1
            log.info("reminder delivery %d cancelled: nothing left to tell", job.delivery_id)
        elif outcome.error is not None and not outcome.error.startswith("postponed"):
            report.failed += 1

    def _lines(
        self, message: ReminderMessage, *, tz: tzinfo, live: AbstractSet[int] = frozenset()
    ) -> list[ReminderLine]:
        if message.payload is not None:
            return [
                ReminderLine(
                    item_zh=entry["name_zh"],
                    item_en=entry.get("name_en") or "",
                    hut=message.hut_id or "",
                    due_at=datetime.fromisoformat(entry["when"])
                    if entry.get("when")
                    else message.created_at,
                    tz=tz,
                    extra=entry,
                )
                for entry in message.payload
                if entry.get("notice_id") is None or entry["notice_id"] in live
            ]
        lines = []
        for claim in sorted(message.claims, key=lambda c: c.subject):
            loan = claim.loan
            if loan is None or not rq.is_open(loan):
                continue
            lines.append(
                ReminderLine(
                    item_zh=loan.item.name_zh,
                    item_en=loan.item.name_en,
                    hut=loan.hut_id,
                    due_at=loan.due_at,
                    tz=tz,
                    member=loan.member.name,
                    building_unit=loan.member.building_unit,
                    template=claim.template or "",
                )
            )
        return sorted(lines, key=lambda line: line.due_at)

    def _outgoing(
        self,
        message: ReminderMessage,
        delivery: ReminderDelivery,
        channel: Channel,
        *,
        lines: Sequence[ReminderLine],
        now: datetime,
    ) -> Outgoing:
        member = message.member
        name = "" if member is None else member.name
        unit = "" if member is None else member.building_unit
        if (
            self.settings.group_privacy
            and message.audience == Audience.MEMBER
            and is_shared(channel)
        ):
            # A group bot posts to every resident in the group: say whose door to knock
            # on, not who it is.
            name = neighbour(unit, locale=delivery.locale)
        rendered = render(
            message.template, delivery.locale, name=name, unit=unit, lines=lines, now=now
        )
        display = rendered.display
        if message.payload and message.payload[0].get("display"):
            display = message.payload[0]["display"]  # the ledger's own words for the hut
        return Outgoing(
            title=rendered.title,
            body=rendered.body,
            display=display,
            address=delivery.address,
            member_id=message.member_id if message.audience == Audience.MEMBER else None,
        )


def _zone_of(loan: rq.DueLoan) -> tzinfo:
    return _zone(loan.timezone)


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


def neighbour(unit: str, *, locale: str) -> str:
    if locale == "en":
        return f"Resident of {unit}" if unit else "Neighbour"
    return f"{unit} 的住户" if unit else "邻居"


def _notice_ids(message: ReminderMessage) -> list[int]:
    return [
        int(entry["notice_id"])
        for entry in message.payload or ()
        if entry.get("notice_id") is not None
    ]


class _Job:
    """One leased delivery on its way: what to send, or already how it ended."""

    def __init__(
        self,
        delivery: ReminderDelivery,
        stage: str,
        channel: Channel | None,
        *,
        notice_ids: list[int],
    ) -> None:
        self.delivery_id = delivery.id
        self.attempts = delivery.attempts  # counted by the lease
        self.next_attempt_at = delivery.next_attempt_at
        self.last_error = delivery.last_error
        self.channel_name = delivery.channel
        self.member_id = delivery.message.member_id
        self.stage = stage
        self.channel = channel
        self.notice_ids = notice_ids
        self.outgoing: Outgoing | None = None
        self.outcome: rq.Outcome | None = None

    def finish(
        self,
        status: str,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
        refund: bool = False,
    ) -> rq.Outcome:
        return rq.Outcome(
            delivery_id=self.delivery_id,
            status=status,
            attempts=self.attempts - 1 if refund else self.attempts,
            next_attempt_at=retry_at or self.next_attempt_at,
            error=error,
            sent_at=now if status == DeliveryStatus.SENT else None,
        )

    def give_back(self) -> rq.Outcome:
        return rq.Outcome(
            delivery_id=self.delivery_id,
            status=DeliveryStatus.PENDING,
            attempts=self.attempts - 1,
            next_attempt_at=self.next_attempt_at,
            error=self.last_error,
            sent_at=None,
            attempted=False,
        )


class ReminderScheduler:
    """Sweeps every ``interval_s`` on a thread of its own; tests call sweep_once instead."""

    def __init__(
        self, service: ReminderService, *, interval_s: float, clock: Clock = system_clock
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self, now: datetime | None = None) -> SweepReport:
        return self.service.sweep_once(self.clock() if now is None else now)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="toolhut-reminders", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.sweep_once()
                if report.messages or report.sent or report.failed:
                    log.info(
                        "reminder sweep: %d message(s), %d sent, %d failed",
                        report.messages,
                        report.sent,
                        report.failed,
                    )
            except Exception:  # the scheduler outlives a bad sweep; the next one retries
                log.exception("reminder sweep failed")
            self._stop.wait(self.interval_s)


def build_service(
    settings: ReminderSettings,
    *,
    sessions: sessionmaker[Session],
    clock: Clock = system_clock,
    alerts: StockAlertSource | None = None,
    worker_id: str | None = None,
) -> ReminderService:
    """The service as the server runs it; ``alerts`` None: the ledger's consumables (unless
    ``settings.stock_alerts`` is off)."""
    from server.reminders.channels import build_channels
    from server.reminders.stock_alerts import LedgerStockAlerts

    if alerts is None and settings.stock_alerts:
        alerts = LedgerStockAlerts()
    return ReminderService(
        settings=settings,
        sessions=sessions,
        channels=build_channels(settings.channels, sessions=sessions, clock=clock),
        policy=settings.load_policy(),
        worker_id=worker_id,
        alerts=alerts,
    )
