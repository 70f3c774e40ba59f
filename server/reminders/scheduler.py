"""The reminder sweep: find loans that reached a stage, claim each (loan, stage) once in
the database, group a member's loans into one message, and deliver it on every channel.

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
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock, system_clock
from server.domain.reminders import (
    EXPIRY_STAGE,
    MANUAL_STAGE,
    RESTOCK_STAGE,
    Audience,
    ReminderLine,
    ReminderPolicy,
    Stage,
    StageAction,
    current_stages,
    manual_stage_key,
)
from server.reminders.channels import Channel, DeliveryError, Outgoing
from server.reminders.config import ReminderSettings
from server.reminders.templates import render
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


@dataclass(frozen=True, slots=True)
class _Wanted:
    member_id: int
    hut_id: str
    stage: Stage
    loans: list[rq.DueLoan]


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
        self.plan(now, report=report)
        self.plan_stock_alerts(now, report=report)
        self.deliver(now, report=report)
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
                    fresh = [
                        loan
                        for loan in want.loans
                        if (loan.subject, want.stage.name) not in claimed
                    ]
                    if fresh:
                        todo.append(_Wanted(want.member_id, want.hut_id, want.stage, fresh))
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
    ) -> list[_Wanted]:
        """Group loans by (member, audience, stage reached); sorted, so that processes
        planning the same loans claim them in the same order."""
        wanted: dict[tuple[int, Audience, str], _Wanted] = {}
        for loan in loans:
            tz = _zone(loan.timezone)
            stages = self.policy.stages_for(
                category=loan.category, groups=groups.get(loan.member_id, ())
            )
            for due in current_stages(stages, due_at=loan.due_at, now=now, tz=tz):
                # Resident reminders wait out quiet hours; the stage current when they end
                # goes out then (postponed, superseded by a later stage at most).
                if due.stage.audience is Audience.MEMBER and self.quiet.contains(now, tz=tz):
                    continue
                key = (loan.member_id, due.stage.audience, due.stage.name)
                entry = wanted.setdefault(key, _Wanted(loan.member_id, loan.hut_id, due.stage, []))
                entry.loans.append(loan)
        return [wanted[key] for key in sorted(wanted)]

    def _create(
        self,
        session: Session,
        wants: Sequence[_Wanted],
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
                    stage=stage_key or want.stage.name,
                    template=want.stage.template,
                    audience=want.stage.audience.value,
                    member_id=want.member_id,
                    hut_id=want.hut_id,
                    claims=[rq.NewClaim(loan.subject, loan.loan_id) for loan in want.loans],
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
            stage = want.stage
            targets = self._targets(stage, contacts.get(want.member_id, {}))
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
                stage.audience.value,
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
        self, stage: Stage, contacts: Mapping[str, Any]
    ) -> list[tuple[str, str | None, str]]:
        targets: list[tuple[str, str | None, str]] = []
        for name in stage.channels:
            channel = self.channels.get(name)
            if channel is None:
                continue
            if channel.needs_address and stage.audience is Audience.MEMBER:
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
                    by_hut: dict[str, list[StockAlert]] = defaultdict(list)
                    for alert in found:
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
            }
            for a in alerts
            if a.key in kept
        ]
        targets = self._targets(stage, {})
        rq.add_deliveries(
            session, [(message_id, *target) for target in targets], first_attempt_at=now
        )
        report.messages += 1
        report.claims += len(won)
        report.deliveries += len(targets)
        report.message_ids.append(message_id)

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
            want = _Wanted(member_id, loans[0].hut_id, manual, loans)
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
        """Send every delivery that is due and not leased by another worker."""
        report = report or SweepReport()
        until = now + timedelta(seconds=self.settings.lease_s)
        with self.sessions() as session:
            zones = rq.hut_timezones(session)
        while True:
            with self.sessions.begin() as session:
                leased = rq.lease_deliveries(
                    session,
                    now=now,
                    worker=self.worker_id,
                    until=until,
                    limit=self.settings.batch,
                    message_ids=message_ids,
                )
            for delivery_id in leased:
                self._deliver_one(delivery_id, now=now, report=report, zones=zones)
            if len(leased) < self.settings.batch:
                return report

    def _deliver_one(
        self, delivery_id: int, *, now: datetime, report: SweepReport, zones: Mapping[str, str]
    ) -> None:
        with self.sessions() as session:
            delivery = rq.load_delivery(session, delivery_id)
            if delivery is None:
                return
            message = delivery.message
            tz = _zone(zones.get(message.hut_id or "", DEFAULT_TIMEZONE))
            lines = self._lines(message, tz=tz)
            channel = self.channels.get(delivery.channel)
            attempts = delivery.attempts
        status, error, retry_at = DeliveryStatus.SENT, None, None
        if not lines:
            status = DeliveryStatus.CANCELLED
        elif (
            message.audience == Audience.MEMBER
            and not message.stage.startswith(MANUAL_STAGE + "@")
            and self.quiet.contains(now, tz=tz)
        ):
            # A retry that came due in quiet hours: wait for the morning, uncounted.
            self._record(
                delivery_id,
                now=now,
                status=DeliveryStatus.PENDING,
                error="postponed: quiet hours",
                retry_at=self.quiet.next_end(now, tz=tz),
                refund=True,
            )
            return
        elif channel is None:
            error = f"channel {delivery.channel!r} is not configured"
        else:
            outgoing = self._outgoing(message, delivery, lines=lines, now=now)
            try:
                channel.send(outgoing)
            except DeliveryError as exc:
                error = str(exc)
            except Exception as exc:  # a channel bug must not stop the other deliveries
                log.exception("reminder channel %s crashed", delivery.channel)
                error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            if attempts >= self.settings.max_attempts:
                status = DeliveryStatus.DEAD
                log.error(
                    "reminder delivery %d (%s, %s) given up after %d attempts: %s",
                    delivery_id,
                    message.stage,
                    delivery.channel,
                    attempts,
                    error,
                )
            else:
                status = DeliveryStatus.PENDING
                retry_at = now + self.settings.retry_delay(attempts)
                log.warning(
                    "reminder delivery %d (%s, %s) attempt %d failed, retry at %s: %s",
                    delivery_id,
                    message.stage,
                    delivery.channel,
                    attempts,
                    retry_at,
                    error,
                )
            report.failed += 1
        elif status == DeliveryStatus.CANCELLED:
            report.cancelled += 1
            log.info("reminder delivery %d cancelled: all items returned", delivery_id)
        else:
            report.sent += 1
            log.info(
                "reminder delivery %d sent: %s via %s to member %s",
                delivery_id,
                message.stage,
                delivery.channel,
                message.member_id,
            )
        self._record(delivery_id, now=now, status=status, error=error, retry_at=retry_at)

    def _record(
        self,
        delivery_id: int,
        *,
        now: datetime,
        status: str,
        error: str | None,
        retry_at: datetime | None,
        refund: bool = False,
    ) -> None:
        try:
            with self.sessions.begin() as session:
                rq.record_attempt(
                    session,
                    delivery_id=delivery_id,
                    worker=self.worker_id,
                    now=now,
                    status=status,
                    error=error,
                    next_attempt_at=retry_at,
                )
                if refund:
                    delivery = session.get(ReminderDelivery, delivery_id)
                    if delivery is not None:
                        delivery.attempts = max(0, delivery.attempts - 1)
        except DBAPIError as exc:
            # The lease runs out and the delivery is tried again: at least once, not lost.
            log.error("could not record reminder delivery %d: %s", delivery_id, exc)

    def _lines(self, message: ReminderMessage, *, tz: tzinfo) -> list[ReminderLine]:
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
                )
                for entry in message.payload
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
                )
            )
        return sorted(lines, key=lambda line: line.due_at)

    def _outgoing(
        self,
        message: ReminderMessage,
        delivery: ReminderDelivery,
        *,
        lines: Sequence[ReminderLine],
        now: datetime,
    ) -> Outgoing:
        member = message.member
        rendered = render(
            message.template,
            delivery.locale,
            name="" if member is None else member.name,
            unit="" if member is None else member.building_unit,
            lines=lines,
            now=now,
        )
        return Outgoing(
            title=rendered.title,
            body=rendered.body,
            display=rendered.display,
            address=delivery.address,
            member_id=message.member_id if message.audience == Audience.MEMBER else None,
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
    from server.reminders.channels import build_channels

    return ReminderService(
        settings=settings,
        sessions=sessions,
        channels=build_channels(settings.channels, sessions=sessions, clock=clock),
        policy=settings.load_policy(),
        worker_id=worker_id,
        alerts=alerts,
    )
