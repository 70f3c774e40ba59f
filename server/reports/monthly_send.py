"""The monthly send: on the first day of each month (midnight in the hut's zone; the
district's in ``reports.timezone``) last month's report of every hut and of the district is
built, kept for download and told to the staff channel, once however many server
processes look.

Once is the primary key of ``monthly_report_sends`` (month, scope): one short transaction
claims the send, and only the process that wins it builds the report, outside any
transaction (a PDF takes a moment, and SQLite's write lock must not wait for it); then one
short transaction keeps the report, writes the staff message with its deliveries and
marks the send done. A build that fails gives its claim back; a claim whose process died
building is taken over once its lease is out (report_store.CLAIM_LEASE). The message
goes through the reminders' machinery (a ``reminder_messages`` row, stage
``monthly_report``, one delivery per report channel), so a failed send is retried by the
reminder sweep. Apprise carries text to our channels, so the message is the headline and
the link to the console's reports page (``<public_base_url>/console/reports``), not the
PDF. A server that was down on the 1st sends at its first look after, up to the month's
``catch_up_days``-th day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from server.clock import Clock
from server.domain.reminders import Audience
from server.loop_thread import LoopThread
from server.reminders import payloads
from server.reminders.channels import Channel
from server.reminders.config import ReminderSettings
from server.reminders.delivery import Deliverer
from server.reminders.payloads import AlertEntry
from server.reminders.targets import Recipients, delivery_rows
from server.reminders.types import SweepReport
from server.reminders.zones import hut_zone
from server.reports import service
from server.reports import texts as t
from server.reports.config import ReportSettings
from server.reports.figures import Month, MonthlyFigures
from server.reports.pdf import percent
from server.storage import reminder_queries as rq
from server.storage import report_queries, report_store
from server.storage.report_models import DISTRICT_SCOPE
from toolhut.i18n import gettext

log = logging.getLogger(__name__)

STAGE = "monthly_report"
ACTOR = "monthly send"


def due_months(
    huts: list[tuple[str, str]], *, now: datetime, district_zone: str, catch_up_days: int
) -> list[tuple[str | None, Month]]:
    """(hut or None for the district, the month to send) as of ``now``: the month before
    the one each zone is in, in that month's first ``catch_up_days`` days."""
    scopes: list[tuple[str | None, str]] = [(hut_id, zone) for hut_id, zone in huts]
    scopes.append((None, district_zone))
    due: list[tuple[str | None, Month]] = []
    for hut_id, zone in scopes:
        today = now.astimezone(hut_zone(zone)).date()
        if today.day <= catch_up_days:
            due.append((hut_id, Month.of(today).previous()))
    return due


def headline(figures: MonthlyFigures, *, link: str, lang: str) -> str:
    f = figures
    scope = (
        gettext(t.HUT, lang).format(name=f.hut_name, id=f.hut_id)
        if f.hut_id is not None
        else gettext(t.DISTRICT, lang)
    )
    return gettext(t.MESSAGE_BODY, lang).format(
        month=f.month,
        scope=scope,
        loans=f.loans,
        rate=percent(f.lateness.rate),
        wishes=f.wishes.proposed,
        online=percent(f.share_online),
        link=link,
    )


class MonthlySender:
    def __init__(
        self,
        *,
        settings: ReportSettings,
        reminders: ReminderSettings,
        sessions: sessionmaker[Session],
        channels: Mapping[str, Channel],
        worker_id: str,
        console_url: str,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.worker_id = worker_id
        self.link = f"{console_url.rstrip('/')}/console/reports"
        self.recipients = Recipients(channels, reminders.default_locale)
        self.delivery = Deliverer(
            settings=reminders, sessions=sessions, channels=channels, worker_id=worker_id
        )

    def tick(self, now: datetime) -> list[tuple[str | None, str]]:
        """Send what is due and not claimed yet; returns (hut or None, month) sent."""
        with self.sessions() as db:
            huts = [(hut_id, zone) for hut_id, _name, zone in report_queries.huts(db, None)]
            due = due_months(
                huts,
                now=now,
                district_zone=self.settings.timezone,
                catch_up_days=self.settings.catch_up_days,
            )
            claimed = {m: report_store.claimed(db, m, now=now) for m in {str(m) for _, m in due}}
        sent: list[tuple[str | None, str]] = []
        messages: list[int] = []
        for hut_id, month in due:
            scope = hut_id or DISTRICT_SCOPE
            if scope in claimed[str(month)]:
                continue
            try:
                message_id = self._send(hut_id, month, scope, now)
            except Exception:  # one report that cannot be built holds back no other
                log.exception(
                    "monthly report %s of %s failed; the next look tries again",
                    month,
                    hut_id or "the district",
                )
                continue
            if message_id is not None:
                sent.append((hut_id, str(month)))
                messages.append(message_id)
        if messages:
            self.delivery.deliver(now, report=SweepReport(), message_ids=messages)
        return sent

    def _send(self, hut_id: str | None, month: Month, scope: str, now: datetime) -> int | None:
        # Claimed first, in a short transaction of its own: only the winner builds (a
        # district's 500 reports, built by every server process, each to lose the claim
        # but one, had kept every process busy on the 1st).
        with self.sessions.begin() as db:
            if not report_store.claim_send(
                db, month=str(month), scope=scope, now=now, worker=self.worker_id
            ):
                return None  # another process's
        try:
            with self.sessions() as db:
                built = service.build(
                    db, month=month, hut_id=hut_id, now=now, district_zone=self.settings.timezone
                )
            with self.sessions.begin() as db:
                service.keep(db, built, now=now, actor=ACTOR)
                message_id = self._message(db, built.figures, scope=scope, now=now)
                report_store.mark_sent(
                    db, month=str(month), scope=scope, message_id=message_id, now=now
                )
        except Exception:
            # The next look (of any process) claims it again; if the release fails too,
            # the claim runs out its lease.
            with self.sessions.begin() as db:
                report_store.release_send(db, month=str(month), scope=scope, worker=self.worker_id)
            raise
        log.info("monthly report %s of %s kept and sent", month, hut_id or "the district")
        return message_id

    def _message(
        self, db: Session, figures: MonthlyFigures, *, scope: str, now: datetime
    ) -> int | None:
        subject = f"report:{figures.month}:{scope}"
        message = rq.NewMessage(
            stage=STAGE,
            template=STAGE,
            audience=Audience.STAFF.value,
            member_id=None,
            hut_id=figures.hut_id,
            claims=[rq.NewClaim(subject, None)],
        )
        [created] = rq.create_messages(db, [message], now=now)
        if created is None:
            return None
        message_id, _won = created
        title = [
            gettext(t.MESSAGE_TITLE, lang).format(month=figures.month) for lang in ("zh_CN", "en")
        ]
        entry = AlertEntry(
            name_zh=" / ".join(title),
            detail_zh="\n".join(
                headline(figures, link=self.link, lang=lang) for lang in ("zh_CN", "en")
            ),
        )
        rq.set_payload(db, message_id, payloads.to_json([entry]))
        targets = self.recipients.targets(Audience.STAFF, self.settings.channels, {})
        rq.add_deliveries(db, delivery_rows(message_id, targets), first_attempt_at=now)
        return message_id


class MonthlyLoop(LoopThread):
    """Looks every ``poll_s`` on a thread of its own; a failed look is logged and the next
    one tries again."""

    thread_name = "toolhut-reports"

    def __init__(self, sender: MonthlySender, *, clock: Clock) -> None:
        super().__init__()
        self.sender = sender
        self.clock = clock

    def _run(self) -> None:
        # The first look a poll after start: a report's build never slows a start-up.
        while not self._stop.wait(self.sender.settings.poll_s):
            try:
                self.sender.tick(self.clock())
            except Exception:  # the loop outlives a bad look; the next one retries
                log.exception("monthly report send failed; trying again")
