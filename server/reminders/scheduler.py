"""The reminder sweep as the server runs it: ``ReminderService`` composes the steps of a
sweep, each in a module of its own, and ``ReminderScheduler`` runs it on a thread.

A sweep releases expired holds, plans loan reminders (``planning``), the ledger's notices
(``notices``) and stock alerts (``stock_alerts``), then delivers what is due
(``delivery``). Planning claims each (subject, stage) once in the database; delivery leases
each channel's send; so any number of processes may sweep the same database.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.clock import Clock, system_clock
from server.domain.reminders import ReminderPolicy
from server.reminders.channels import Channel, build_channels
from server.reminders.config import ReminderSettings
from server.reminders.delivery import Deliverer
from server.reminders.notices import NoticePlanner
from server.reminders.planning import LoanPlanner, NothingToRemindError, UnknownMemberError
from server.reminders.rendering import neighbour
from server.reminders.stock_alerts import LedgerStockAlerts, StockAlertPlanner
from server.reminders.targets import Recipients
from server.reminders.types import StockAlert, StockAlertSource, SweepReport

log = logging.getLogger(__name__)

__all__ = [
    "NothingToRemindError",
    "ReminderScheduler",
    "ReminderService",
    "StockAlert",
    "StockAlertSource",
    "SweepReport",
    "UnknownMemberError",
    "build_service",
    "neighbour",
    "new_worker_id",
]


def new_worker_id() -> str:
    """This process's name on the delivery leases: unique per host, process and start."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


ReportSink = Callable[[SweepReport], None]


def _ignore(_report: SweepReport) -> None:
    pass


class ReminderService:
    """One sweep, or any step of it; each step without ``report`` starts a fresh one.

    ``on_report`` hears the report of every sweep and every remind-now when it is done
    (the server's metrics count the deliveries per channel there)."""

    def __init__(
        self,
        *,
        settings: ReminderSettings,
        sessions: sessionmaker[Session],
        channels: Mapping[str, Channel],
        policy: ReminderPolicy,
        worker_id: str | None = None,
        alerts: StockAlertSource | None = None,
        on_report: ReportSink = _ignore,
    ) -> None:
        self.settings = settings
        self.on_report = on_report
        self.sessions = sessions
        self.channels = channels
        self.policy = policy
        self.worker_id = worker_id or new_worker_id()
        self.alerts = alerts
        self.quiet = settings.quiet_hours
        recipients = Recipients(channels, settings.default_locale)
        self.loans = LoanPlanner(
            settings=settings, sessions=sessions, policy=policy, recipients=recipients
        )
        self.notices = NoticePlanner(
            sessions=sessions,
            policy=policy,
            recipients=recipients,
            lookback=timedelta(days=settings.lookback_days),
        )
        self.stock = StockAlertPlanner(sessions=sessions, alerts=alerts, recipients=recipients)
        self.delivery = Deliverer(
            settings=settings, sessions=sessions, channels=channels, worker_id=self.worker_id
        )
        for name in sorted({c for r in policy.rules for s in r.stages for c in s.channels}):
            if name not in channels:
                log.info("reminder channel %r is named by the policy but not configured", name)

    def sweep_once(self, now: datetime) -> SweepReport:
        report = SweepReport()
        self.expire_holds(now, report=report)
        self.plan(now, report=report)
        self.plan_notices(now, report=report)
        self.plan_stock_alerts(now, report=report)
        self.deliver(now, report=report)
        self.on_report(report)
        return report

    def expire_holds(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        """Release holds past their time; the ledger passes the item to the next in line,
        whose "ready" notice this same sweep then sends."""
        report = report or SweepReport()
        try:
            with self.sessions.begin() as db:
                expired = staff_actions.expire_holds(db, now=now)
        except DBAPIError as exc:
            log.warning("releasing expired holds failed, retried next sweep: %s", exc)
            return report
        if expired:
            log.info("released %d expired hold(s)", expired)
        report.holds_expired += expired
        return report

    def plan(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        """Claim every (loan, stage) reached by ``now`` and not claimed before."""
        return self.loans.plan(now, report=report or SweepReport())

    def plan_notices(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        """A message for every notification request of the ledger (e.g. reservation_ready),
        claimed once per request; ``sent_at`` is set when a channel has delivered it."""
        return self.notices.plan(now, report=report or SweepReport())

    def plan_stock_alerts(self, now: datetime, *, report: SweepReport | None = None) -> SweepReport:
        return self.stock.plan(now, report=report or SweepReport())

    def remind_now(self, member_id: int, *, now: datetime) -> SweepReport:
        """Send a reminder of the member's open loans now, quiet hours or not."""
        report = SweepReport()
        message_ids = self.loans.remind_now(member_id, now=now, report=report)
        if message_ids:
            self.deliver(now, report=report, message_ids=message_ids)
        self.on_report(report)
        return report

    def deliver(
        self,
        now: datetime,
        *,
        report: SweepReport | None = None,
        message_ids: Sequence[int] | None = None,
    ) -> SweepReport:
        """Send every delivery that is due and not leased by another worker."""
        return self.delivery.deliver(now, report=report or SweepReport(), message_ids=message_ids)


class ReminderScheduler:
    """Sweeps every ``interval_s`` on a thread of its own, and at once when woken (a move
    of the clock: server/clock.py); tests call sweep_once instead."""

    def __init__(
        self, service: ReminderService, *, interval_s: float, clock: Clock = system_clock
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[SweepReport], None]] = []
        self._listeners_lock = threading.Lock()

    def sweep_once(self, now: datetime | None = None) -> SweepReport:
        return self.service.sweep_once(self.clock() if now is None else now)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="toolhut-reminders", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Sweep now rather than at the end of the interval (once more, if one is running:
        what it read of the clock may be from before the move)."""
        self._wake.set()

    def on_sweep(self, listener: Callable[[SweepReport], None]) -> None:
        """Hand ``listener`` the report of every sweep of the thread (the demo shows the
        reminders sent); called on that thread, so keep it short."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the sweep: a wake-up during it means one more
            try:
                report = self.sweep_once()
                if report.messages or report.sent or report.failed:
                    log.info(
                        "reminder sweep: %d message(s), %d sent, %d failed",
                        report.messages,
                        report.sent,
                        report.failed,
                    )
                self._tell(report)
            except Exception:  # the scheduler outlives a bad sweep; the next one retries
                log.exception("reminder sweep failed")
            self._wake.wait(self.interval_s)

    def _tell(self, report: SweepReport) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(report)
            except Exception:  # a listener's failure is not the sweep's
                log.exception("a reminder sweep listener failed")


def build_service(
    settings: ReminderSettings,
    *,
    sessions: sessionmaker[Session],
    clock: Clock = system_clock,
    alerts: StockAlertSource | None = None,
    worker_id: str | None = None,
    on_report: ReportSink = _ignore,
) -> ReminderService:
    """The service as the server runs it; ``alerts`` None: the ledger's consumables (unless
    ``settings.stock_alerts`` is off)."""
    if alerts is None and settings.stock_alerts:
        alerts = LedgerStockAlerts()
    return ReminderService(
        settings=settings,
        sessions=sessions,
        channels=build_channels(settings.channels, sessions=sessions, clock=clock),
        policy=settings.load_policy(),
        worker_id=worker_id,
        alerts=alerts,
        on_report=on_report,
    )
