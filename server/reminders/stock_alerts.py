"""The ledger's consumables as the scheduler's source of restock and expiry alerts.

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

import functools
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from server.domain import BatchView, expiring, restock_needed
from server.domain.consumables import EXPIRY_WARNING, is_expired
from server.reminders.scheduler import StockAlert
from server.storage import consumables
from server.storage import reminder_queries as rq
from server.storage.models import DEFAULT_TIMEZONE


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


class LedgerStockAlerts:
    """``StockAlertSource`` over ``server.storage.consumables`` and the domain's rules."""

    def __init__(self, *, ahead: timedelta = EXPIRY_WARNING) -> None:
        self.ahead = ahead

    def restock_needed(self, session: Session, *, now: datetime) -> Iterable[StockAlert]:
        low = restock_needed(consumables.stock(session))
        if not low:
            return []
        marks = consumables.refill_marks(session)
        alerts = []
        for stock in low:
            batch_id, name_en = marks.get(stock.tag, (0, ""))
            alerts.append(
                StockAlert(
                    key=f"restock:{stock.tag}:{batch_id}",
                    hut_id=stock.hut_id,
                    name_zh=stock.name_zh,
                    name_en=name_en,
                    detail_zh=f"剩 {stock.quantity}，最低 {stock.min_quantity}",
                    detail_en=f"{stock.quantity} left, minimum {stock.min_quantity}",
                )
            )
        return alerts

    def expiring(self, session: Session, *, now: datetime) -> Iterable[StockAlert]:
        by_hut: dict[str, list[BatchView]] = defaultdict(list)
        for batch in consumables.batches(session):
            by_hut[batch.hut_id].append(batch)
        if not by_hut:
            return []
        zones = rq.hut_timezones(session)
        marks = consumables.refill_marks(session)
        alerts: dict[str, StockAlert] = {}
        for hut_id, batches in sorted(by_hut.items()):
            tz = _zone(zones.get(hut_id, DEFAULT_TIMEZONE))
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
                alerts[key] = StockAlert(
                    key=key,
                    hut_id=hut_id,
                    name_zh=batch.name_zh,
                    name_en=marks.get(batch.tag, (0, ""))[1],
                    when=datetime.combine(batch.expires_on, time(0), tzinfo=tz),
                    detail_zh=f"已过期，剩 {left}" if expired else f"剩 {left}",
                    detail_en=f"expired, {left} left" if expired else f"{left} left",
                )
        return list(alerts.values())
