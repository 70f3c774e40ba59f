"""Restock and expiry alerts → staff messages: the ledger's consumables as the source of
the alerts, and their planning, one message per hut and kind.

What "once" means is in the keys (a claim per key, ever):

- restock: ``restock:<tag>:<newest batch id>``. Stock that stays low is reported once; a
  refill adds a batch, so when the stock falls to its minimum again the key is new and
  staff hear of it again. (A delivery too small to lift the stock over the minimum also
  counts as a new batch: staff then hear that it is still low, once.)
- expiry: ``expiry:<tag>:<expiry date>:soon`` when a batch in stock comes within the
  warning window, and ``...:expired`` on the hut's calendar day after it expired, if
  any of it is still in stock. Batches of one consumable with the same date are one alert.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server.domain import BatchView, expiring, restock_needed
from server.domain.consumables import EXPIRY_WARNING, is_expired
from server.domain.reminders import EXPIRY_STAGE, RESTOCK_STAGE, Stage
from server.reminders import payloads
from server.reminders.payloads import AlertEntry
from server.reminders.targets import Recipients, delivery_rows
from server.reminders.types import StockAlert, StockAlertSource, SweepReport
from server.reminders.zones import zone_of
from server.storage import consumables
from server.storage import reminder_queries as rq
from toolhut.i18n import N_, gettext

log = logging.getLogger(__name__)


# An alert line's detail, kept in both languages (the alert reaches staff of either).
RESTOCK_DETAIL = N_("{left} left, minimum {least}")
EXPIRED_DETAIL = N_("expired, {left} left")
LEFT_DETAIL = N_("{left} left")


def _in_both(text: str, **fields: object) -> tuple[str, str]:
    """``text`` in Chinese and in English, its fields filled."""
    return gettext(text, "zh_CN").format(**fields), gettext(text, "en").format(**fields)


class StockAlertPlanner:
    """Claims each new alert of the source once and tells staff, per hut and kind."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        alerts: StockAlertSource | None,
        recipients: Recipients,
    ) -> None:
        self.sessions = sessions
        self.alerts = alerts
        self.recipients = recipients

    def plan(self, now: datetime, *, report: SweepReport) -> SweepReport:
        if self.alerts is None:
            return report
        try:
            with self.sessions.begin() as db:
                for stage, found in (
                    (RESTOCK_STAGE, self.alerts.restock_needed(db, now=now)),
                    (EXPIRY_STAGE, self.alerts.expiring(db, now=now)),
                ):
                    self._plan_stage(db, stage, list(found), now=now, report=report)
        except DBAPIError as exc:
            log.warning("stock alert planning failed, retried next sweep: %s", exc)
        return report

    def _plan_stage(
        self,
        db: Session,
        stage: Stage,
        alerts: Sequence[StockAlert],
        *,
        now: datetime,
        report: SweepReport,
    ) -> None:
        claimed = rq.claimed_stages(db, [a.key for a in alerts])
        by_hut: dict[str, list[StockAlert]] = defaultdict(list)
        for alert in alerts:
            if (alert.key, stage.name) not in claimed:
                by_hut[alert.hut_id].append(alert)
        for hut_id, fresh in sorted(by_hut.items()):
            self._write(db, stage, hut_id, fresh, now=now, report=report)

    def _write(
        self,
        db: Session,
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
        [created] = rq.create_messages(db, [message], now=now)
        if created is None:
            return
        message_id, won = created
        kept = set(won)
        entries = [_entry(a) for a in alerts if a.key in kept]
        rq.set_payload(db, message_id, payloads.to_json(entries))
        targets = self.recipients.targets(stage.audience, stage.channels, {})
        rq.add_deliveries(db, delivery_rows(message_id, targets), first_attempt_at=now)
        report.planned(message_id, claims=len(won), channels=[t[0] for t in targets])


def _entry(alert: StockAlert) -> AlertEntry:
    return AlertEntry(alert.name_zh, alert.name_en, alert.when, alert.detail_zh, alert.detail_en)


class LedgerStockAlerts:
    """``StockAlertSource`` over ``server.storage.consumables`` and the domain's rules."""

    def __init__(self, *, ahead: timedelta = EXPIRY_WARNING) -> None:
        self.ahead = ahead

    def restock_needed(self, db: Session, *, now: datetime) -> Iterable[StockAlert]:
        low = restock_needed(consumables.stock(db))
        if not low:
            return []
        marks = consumables.refill_marks(db)
        alerts = []
        for stock in low:
            batch_id, name_en = marks.get(stock.tag, (0, ""))
            zh, en = _in_both(RESTOCK_DETAIL, left=stock.quantity, least=stock.min_quantity)
            alerts.append(
                StockAlert(
                    key=f"restock:{stock.tag}:{batch_id}",
                    hut_id=stock.hut_id,
                    name_zh=stock.name_zh,
                    name_en=name_en,
                    detail_zh=zh,
                    detail_en=en,
                )
            )
        return alerts

    def expiring(self, db: Session, *, now: datetime) -> Iterable[StockAlert]:
        by_hut: dict[str, list[BatchView]] = defaultdict(list)
        for batch in consumables.batches(db):
            by_hut[batch.hut_id].append(batch)
        if not by_hut:
            return []
        huts = rq.hut_places(db)
        marks = consumables.refill_marks(db)
        alerts: dict[str, StockAlert] = {}
        for hut_id, batches in sorted(by_hut.items()):
            tz = zone_of(huts, hut_id)
            for batch in expiring(batches, now, ahead=self.ahead, tz=tz):
                assert batch.expires_on is not None  # expiring() keeps dated batches only
                expired = is_expired(batch, now, tz=tz)
                key = f"expiry:{batch.tag}:{batch.expires_on.isoformat()}:" + (
                    "expired" if expired else "soon"
                )
                if key in alerts:  # same consumable, same date: one line, summed
                    continue
                left = sum(
                    b.quantity
                    for b in batches
                    if b.tag == batch.tag and b.expires_on == batch.expires_on
                )
                zh, en = _in_both(EXPIRED_DETAIL if expired else LEFT_DETAIL, left=left)
                alerts[key] = StockAlert(
                    key=key,
                    hut_id=hut_id,
                    name_zh=batch.name_zh,
                    name_en=marks.get(batch.tag, (0, ""))[1],
                    when=datetime.combine(batch.expires_on, time(0), tzinfo=tz),
                    detail_zh=zh,
                    detail_en=en,
                )
        return list(alerts.values())
