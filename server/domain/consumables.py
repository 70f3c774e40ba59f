"""Consumables (first-aid supplies): taken, not returned. Staff are alerted when a hut's
stock falls to its minimum and when a batch is about to expire."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

EXPIRY_WARNING = timedelta(days=30)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class StockView:
    """One consumable at one hut: what is left (over all batches) and the restock level."""

    tag: str
    name_zh: str
    hut_id: str
    quantity: int
    min_quantity: int


@dataclass(frozen=True, slots=True)
class BatchView:
    """A delivery of one consumable with its own expiry date (in the hut's calendar)."""

    tag: str
    name_zh: str
    hut_id: str
    quantity: int
    expires_on: date | None


def restock_needed(stock: Iterable[StockView]) -> list[StockView]:
    """Stock at or below its minimum level, emptiest first (relative to the minimum)."""
    low = [s for s in stock if s.quantity <= s.min_quantity]
    return sorted(low, key=lambda s: (s.quantity - s.min_quantity, s.hut_id, s.tag))


def expiring(
    batches: Iterable[BatchView],
    now: datetime,
    *,
    ahead: timedelta = EXPIRY_WARNING,
    tz: tzinfo = SHANGHAI,
) -> list[BatchView]:
    """Batches still in stock that expire within ``ahead`` of ``now`` (or already have),
    soonest first. Dates are the hut's calendar days (``tz``)."""
    last_day = (now.astimezone(tz) + ahead).date()
    soon = [
        b
        for b in batches
        if b.quantity > 0 and b.expires_on is not None and b.expires_on <= last_day
    ]
    return sorted(soon, key=lambda b: (b.expires_on or date.max, b.hut_id, b.tag))


def is_expired(batch: BatchView, now: datetime, *, tz: tzinfo = SHANGHAI) -> bool:
    return batch.expires_on is not None and batch.expires_on < now.astimezone(tz).date()
