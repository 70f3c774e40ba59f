"""Hand-built snapshots for the pure rule tests: a hut, two residents, a staff member, a
drill, an open door session and a loan, each varied one field at a time.

Nothing here touches a database (nor imports sqlalchemy): the rule tests build the
Snapshot storage would load and call ``decide`` on it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from server.domain import CardStatus, Category, ItemCondition, ItemStatus, MemberStatus
from server.domain.commands import Scan
from server.domain.ledger_state import (
    CardState,
    DoorState,
    HutState,
    ItemState,
    LoanState,
    MemberState,
    ReservationState,
    ReservationStatus,
    Snapshot,
)
from server.domain.sessions import SessionMode
from tests.server.domain_cases import NOW

HUT = HutState("demo-hut", "Asia/Shanghai")
ZHANG = MemberState(1, "张阿姨", MemberStatus.ACTIVE)
LI = MemberState(2, "李师傅", MemberStatus.ACTIVE)
STAFF = MemberState(3, "管理员", MemberStatus.ACTIVE, flags=frozenset({"staff"}))
WANG = MemberState(4, "王大爷", MemberStatus.ACTIVE)
CARD = CardState("04A1B2C3", CardStatus.ACTIVE, ZHANG)
LI_CARD = CardState("04D5E6F7", CardStatus.ACTIVE, LI)
STAFF_CARD = CardState("04ABCDEF", CardStatus.ACTIVE, STAFF)
DRILL = ItemState(
    7, "T0001", "电钻", Category.POWER_TOOLS, ItemStatus.AVAILABLE, ItemCondition.OK, "demo-hut"
)
DOOR = DoorState("demo-hut", "s1", SessionMode.LENDING, NOW, member_id=1, card_uid="04A1B2C3")
STOCKTAKE = DoorState(
    "demo-hut",
    "s2",
    SessionMode.STOCKTAKE,
    NOW,
    member_id=3,
    card_uid="04ABCDEF",
    door_opened_at=NOW,
    has_stocktake=True,
)
LOAN = LoanState(41, 7, 1, NOW - timedelta(days=1), NOW + timedelta(days=2))


def scan(
    text: str = "T0001", *, card_uid: str | None = "04A1B2C3", door_key: str | None = "s1"
) -> Scan:
    return Scan(seq=5, text=text, card_uid=card_uid, door_key=door_key)


def snapshot(**fields: object) -> Snapshot:
    """张阿姨's card in her open door session at NOW, but for ``fields``."""
    base: dict[str, object] = {"hut": HUT, "now": NOW, "card": CARD, "door": DOOR}
    base.update(fields)
    return Snapshot(**base)  # type: ignore[arg-type]


def item(**fields: object) -> ItemState:
    """The drill, but for ``fields``."""
    return replace(DRILL, **fields)  # type: ignore[arg-type]


def waiting(reservation_id: int, member: MemberState, *, days_ago: int = 1) -> ReservationState:
    """``member`` queued for the drill ``days_ago`` days before NOW."""
    created = NOW - timedelta(days=days_ago)
    return ReservationState(reservation_id, DRILL.id, member.id, ReservationStatus.WAITING, created)


def held(
    reservation_id: int, member: MemberState, *, hours_left: float = 3, days_ago: int = 2
) -> ReservationState:
    """The drill held for ``member`` until ``hours_left`` hours after NOW (negative: expired)."""
    return replace(
        waiting(reservation_id, member, days_ago=days_ago),
        state=ReservationStatus.HELD,
        hold_until=NOW + timedelta(hours=hours_left),
    )


def after_scan(door: DoorState = DOOR, **fields: object) -> DoorState:
    """``door`` once one more scan is recorded (and ``fields`` changed)."""
    return replace(door, scans=door.scans + 1, **fields)  # type: ignore[arg-type]
