"""The rule book's one step, without a database: a Snapshot and a command in, Effects out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from server.domain import (
    Action,
    CardStatus,
    Category,
    ItemCondition,
    ItemStatus,
    MemberStatus,
    Refusal,
)
from server.domain.changes import (
    NEW_LOAN,
    AnomalyRaised,
    DoorChanged,
    DoorOpened,
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    LoanClosed,
    LoanOpened,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationClosed,
    ScanRecorded,
    StocktakeOpened,
)
from server.domain.commands import CardTap, DoorChange, EnrolRead, Scan
from server.domain.ledger_state import (
    AnomalyKind,
    CardState,
    DoorState,
    HutState,
    ItemState,
    LoanState,
    MemberState,
    ReservationState,
    ReservationStatus,
    ReturnedLoan,
    Snapshot,
)
from server.domain.rule_book import decide
from server.domain.sessions import SessionMode
from tests.server.domain_cases import NOW

HUT = HutState("demo-hut", "Asia/Shanghai")
ZHANG = MemberState(1, "张阿姨", MemberStatus.ACTIVE)
LI = MemberState(2, "李师傅", MemberStatus.ACTIVE)
STAFF = MemberState(3, "管理员", MemberStatus.ACTIVE, flags=frozenset({"staff"}))
CARD = CardState("04A1B2C3", CardStatus.ACTIVE, ZHANG)
DRILL = ItemState(
    7, "T0001", "电钻", Category.POWER_TOOLS, ItemStatus.AVAILABLE, ItemCondition.OK, "demo-hut"
)
DOOR = DoorState("demo-hut", "s1", SessionMode.LENDING, NOW, member_id=1, card_uid="04A1B2C3")
LOAN = LoanState(41, 7, 1, NOW - timedelta(days=1), NOW + timedelta(days=2))


def _scan(text: str = "T0001") -> Scan:
    return Scan(seq=5, text=text, card_uid="04A1B2C3", door_key="s1")


def _snapshot(**fields: object) -> Snapshot:
    base: dict[str, object] = {"hut": HUT, "now": NOW, "card": CARD, "door": DOOR}
    base.update(fields)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_borrow_opens_a_loan_and_records_the_scan_against_it() -> None:
    effects = decide(_snapshot(item=DRILL), _scan())
    assert effects.decision is not None and effects.decision.action is Action.BORROW
    assert effects.feedback is not None and effects.feedback.text == "已借出 电钻 还期11-30"
    due = NOW + timedelta(days=3)
    assert effects.changes == (
        ItemChanged(7, status=ItemStatus.ON_LOAN),
        LoanOpened(7, 1, "demo-hut", NOW, due),
        DoorChanged(replace(DOOR, scans=1)),
        ScanRecorded(DOOR.ref, 5, NOW, "T0001", "T0001", Action.BORROW, None, NEW_LOAN),
    )


def test_return_holds_the_item_for_the_first_in_line() -> None:
    waiting = ReservationState(9, 7, 2, ReservationStatus.WAITING, NOW - timedelta(days=1))
    on_loan = replace(DRILL, status=ItemStatus.ON_LOAN)
    effects = decide(_snapshot(item=on_loan, loan=LOAN, queue=(waiting,)), _scan())
    assert effects.decision is not None and effects.decision.action is Action.RETURN
    changes = effects.changes
    assert changes[0] == LoanClosed(41, NOW, "demo-hut", None)
    assert HoldPlaced(9, NOW + timedelta(hours=24)) in changes
    assert ItemChanged(7, status=ItemStatus.RESERVED) in changes
    notice = next(c for c in changes if isinstance(c, NoticeQueued))
    assert notice.member_id == 2 and notice.text == "您预约的 电钻 已可领取"
    assert changes[-1] == ScanRecorded(DOOR.ref, 5, NOW, "T0001", "T0001", Action.RETURN, None, 41)


def test_repair_card_after_a_return_withdraws_the_hold() -> None:
    held = ReservationState(
        9, 7, 2, ReservationStatus.HELD, NOW - timedelta(days=1), NOW + timedelta(hours=3)
    )
    item = replace(DRILL, status=ItemStatus.RESERVED)
    returned = ReturnedLoan(LOAN, item, (held,))
    effects = decide(_snapshot(returned=returned), _scan("COND:REPAIR"))
    assert effects.feedback is not None and effects.feedback.text == "已记录 需维修 谢谢"
    assert HoldWithdrawn(9) in effects.changes and NoticesWithdrawn(9) in effects.changes
    assert ItemChanged(7, status=ItemStatus.MAINTENANCE) in effects.changes
    kinds = [c.kind for c in effects.changes if isinstance(c, AnomalyRaised)]
    assert kinds == [AnomalyKind.NEEDS_REPAIR]


def test_condition_card_before_the_item_waits_on_the_door_session() -> None:
    effects = decide(_snapshot(), _scan("COND:MISSING"))
    assert effects.feedback is not None and effects.feedback.text == "请扫描归还的物品"
    pending = replace(DOOR, pending_condition=ItemCondition.MISSING_PART, scans=1)
    assert DoorChanged(pending) in effects.changes
    on_loan = replace(DRILL, status=ItemStatus.ON_LOAN)
    back = decide(_snapshot(door=pending, item=on_loan, loan=LOAN), _scan())
    assert LoanClosed(41, NOW, "demo-hut", ItemCondition.MISSING_PART) in back.changes
    assert any(
        isinstance(c, AnomalyRaised) and c.kind is AnomalyKind.MISSING_PART for c in back.changes
    )


def test_an_expired_hold_passes_on_before_the_scan_is_decided() -> None:
    held = ReservationState(
        9, 7, 2, ReservationStatus.HELD, NOW - timedelta(days=2), NOW - timedelta(hours=1)
    )
    item = replace(DRILL, status=ItemStatus.RESERVED)
    effects = decide(_snapshot(item=item, queue=(held,)), _scan())
    assert effects.changes[0] == ReservationClosed(9, ReservationStatus.EXPIRED, NOW)
    assert effects.decision is not None and effects.decision.action is Action.BORROW


def test_unknown_card_is_refused_and_changes_nothing() -> None:
    effects = decide(_snapshot(card=None, door=None), CardTap("DEADBEEF", "s1", unlocked=True))
    assert effects.reason is Refusal.UNKNOWN_CARD and effects.changes == ()


def test_staff_card_opens_a_stocktake() -> None:
    staff = CardState("04ABCDEF", CardStatus.ACTIVE, STAFF)
    effects = decide(_snapshot(card=staff, door=None), CardTap("04ABCDEF", "s2", unlocked=True))
    opened = effects.changes[0]
    assert isinstance(opened, DoorOpened) and opened.door.mode is SessionMode.STOCKTAKE
    assert isinstance(effects.changes[1], StocktakeOpened)


def test_door_closed_with_nothing_scanned_is_flagged() -> None:
    opened = replace(DOOR, door_opened_at=NOW)
    effects = decide(_snapshot(door=opened), DoorChange("s1", opened=False))
    kinds = [c.kind for c in effects.changes if isinstance(c, AnomalyRaised)]
    assert kinds == [AnomalyKind.UNSCANNED_REMOVAL]
    assert effects.changes[-1] == DoorChanged(replace(opened, closed_at=NOW, flag="unscanned"))


def test_enrol_read_records_the_card_in_upper_case() -> None:
    effects = decide(_snapshot(card=None), EnrolRead("04a1b2c3", "e-1"))
    (read,) = effects.changes
    assert getattr(read, "card_uid", None) == "04A1B2C3"


def test_an_unknown_command_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        decide(_snapshot(), object())
