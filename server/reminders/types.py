"""Types the reminder modules share: a stock alert as the ledger reports it, where such
alerts come from, and what a sweep did.

They live here, not in the scheduler, so the planners, the ledger's alert source and the
scheduler all import this module instead of each other."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


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

    def restock_needed(self, db: Session, *, now: datetime) -> Iterable[StockAlert]: ...

    def expiring(self, db: Session, *, now: datetime) -> Iterable[StockAlert]: ...


@dataclass(slots=True)
class SweepReport:
    """Counts of one sweep (or one step of it), and the ids of the messages it planned;
    the deliveries planned, sent and failed also per channel (the server's metrics)."""

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
    planned_by_channel: Counter[str] = field(default_factory=Counter)
    sent_by_channel: Counter[str] = field(default_factory=Counter)
    failed_by_channel: Counter[str] = field(default_factory=Counter)

    def planned(self, message_id: int, *, claims: int, channels: Sequence[str]) -> None:
        """Count one message written with the claims it won and its deliveries' channels."""
        self.messages += 1
        self.claims += claims
        self.deliveries += len(channels)
        self.planned_by_channel.update(channels)
        self.message_ids.append(message_id)
