"""Every hut-event rule (card taps, door changes, scans), pure: a hand-built Snapshot and a
command into ``decide``, the decision, the text the hut shows and the exact changes out.

The rules are those of the old hut_events path and the ledger tests (test_ledger_flows,
test_ledger, test_domain_ledger); here each is checked without a database, in
milliseconds. Staff commands are tested in test_staff_rules, the hold rules in test_holds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from server.domain import Action, ItemCondition, ItemStatus, MemberStatus, Refusal
from server.domain.changes import (
    NEW_LOAN,
    AnomalyRaised,
    Change,
    ConsumableTaken,
    DoorChanged,
    DoorOpened,
    Effects,
    EnrolmentRead,
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    LoanClosed,
    LoanConditionSet,
    LoanOpened,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationClosed,
    ScanRecorded,
    StocktakeClosed,
    StocktakeLineChange,
    StocktakeOpened,
)
from server.domain.commands import CardTap, DoorChange, EnrolRead
from server.domain.hut_rules import NOBODY_DETAIL, NOBODY_TEXT_KEPT
from server.domain.ledger_state import (
    AnomalyKind,
    BatchState,
    ConsumableState,
    DoorState,
    LoanRef,
    NotificationKind,
    ReservationStatus,
    ReturnedLoan,
    Shelf,
)
from server.domain.rule_book import decide
from server.domain.sessions import SessionFlag, SessionMode
from tests.server.domain_cases import NOW
from tests.server.rule_builders import (
    CARD,
    DOOR,
    DRILL,
    LI,
    LI_CARD,
    LOAN,
    STAFF,
    STAFF_CARD,
    STOCKTAKE,
    WANG,
    ZHANG,
    after_scan,
    held,
    item,
    scan,
    snapshot,
    waiting,
)

ON_LOAN = item(status=ItemStatus.ON_LOAN)
DUE = NOW + timedelta(days=3)
HOLD_UNTIL = NOW + timedelta(hours=24)
READY = "您预约的 电钻 已可领取"


def _recorded(
    action: Action,
    *,
    text: str = "T0001",
    tag: str | None = "T0001",
    reason: Refusal | None = None,
    loan: LoanRef | object | None = None,
    door: DoorState = DOOR,
) -> ScanRecorded:
    return ScanRecorded(door.ref, 5, NOW, text, tag, action, reason, loan)  # type: ignore[arg-type]


def _scanned(action: Action, **fields: object) -> tuple[Change, Change]:
    """The door session's scan count going up and the scan's row: every scan ends so."""
    door = fields.pop("door", DOOR)
    assert isinstance(door, DoorState)
    return DoorChanged(after_scan(door)), _recorded(action, door=door, **fields)  # type: ignore[arg-type]


def _notice(member_id: int, reservation_id: int) -> NoticeQueued:
    return NoticeQueued(
        NotificationKind.RESERVATION_READY, member_id, 7, "demo-hut", reservation_id, READY, NOW
    )


def _told(effects: Effects, action: Action, text: str, *, ok: bool = True) -> None:
    assert effects.decision is not None and effects.decision.action is action
    assert effects.feedback is not None
    assert (effects.feedback.ok, effects.feedback.text) == (ok, text)


def _refused(effects: Effects, reason: Refusal, text: str) -> None:
    _told(effects, Action.REFUSE, text, ok=False)
    assert effects.reason is reason


# Borrowing.


def test_a_holder_borrowing_within_the_hold_fulfils_it() -> None:
    hold = held(9, ZHANG)
    effects = decide(snapshot(item=item(status=ItemStatus.RESERVED), queue=(hold,)), scan())
    _told(effects, Action.BORROW, "已借出 电钻 还期11-30")
    assert effects.changes == (
        ItemChanged(7, status=ItemStatus.ON_LOAN),
        LoanOpened(7, 1, "demo-hut", NOW, DUE),
        ReservationClosed(9, ReservationStatus.FULFILLED, NOW),
        *_scanned(Action.BORROW, loan=NEW_LOAN),
    )


def test_a_senior_borrows_for_two_days_longer() -> None:
    senior = replace(ZHANG, flags=frozenset({"senior"}))
    effects = decide(snapshot(item=DRILL, card=replace(CARD, member=senior)), scan())
    _told(effects, Action.BORROW, "已借出 电钻 还期12-02")
    assert effects.due_at == NOW + timedelta(days=5)
    assert LoanOpened(7, 1, "demo-hut", NOW, NOW + timedelta(days=5)) in effects.changes


def test_an_items_own_loan_days_beat_its_category() -> None:
    effects = decide(snapshot(item=item(loan_days=10)), scan())
    _told(effects, Action.BORROW, "已借出 电钻 还期12-07")


def _refused_scan(reason: Refusal, text: str, **fields: object) -> None:
    """The scan is refused with ``text``, and the only changes are its row and count."""
    effects = decide(snapshot(**fields), scan())
    _refused(effects, reason, text)
    assert effects.changes == _scanned(Action.REFUSE, reason=reason)


def test_over_the_limit_of_the_category_is_refused() -> None:
    _refused_scan(Refusal.OVER_LIMIT, "已达借用上限 请先归还", item=DRILL, in_category=2)
    assert decide(snapshot(item=DRILL, in_category=1), scan()).reason is None


def test_an_item_in_maintenance_is_refused() -> None:
    _refused_scan(
        Refusal.ITEM_IN_MAINTENANCE,
        "电钻 维修中 暂不可借",
        item=item(status=ItemStatus.MAINTENANCE, condition=ItemCondition.NEEDS_REPAIR),
    )


def test_needing_repair_is_refused_even_when_the_status_says_available() -> None:
    _refused_scan(
        Refusal.ITEM_IN_MAINTENANCE,
        "电钻 维修中 暂不可借",
        item=item(condition=ItemCondition.NEEDS_REPAIR),
    )


def test_an_item_held_for_another_is_refused() -> None:
    _refused_scan(
        Refusal.RESERVED_FOR_OTHER,
        "电钻 已为他人预留",
        item=item(status=ItemStatus.RESERVED),
        queue=(held(9, LI),),
    )


def test_a_retired_item_is_refused() -> None:
    _refused_scan(Refusal.ITEM_UNAVAILABLE, "电钻 暂不可借", item=item(status=ItemStatus.RETIRED))


def test_a_suspended_member_is_refused() -> None:
    suspended = replace(CARD, member=replace(ZHANG, status=MemberStatus.SUSPENDED))
    _refused_scan(Refusal.MEMBER_SUSPENDED, "账户已暂停", item=DRILL, card=suspended)


def test_an_unknown_item_is_refused_with_its_tag_recorded() -> None:
    effects = decide(snapshot(), scan("X9999"))
    _refused(effects, Refusal.UNKNOWN_ITEM, "未知物品")
    assert effects.changes == _scanned(
        Action.REFUSE, text="X9999", tag="X9999", reason=Refusal.UNKNOWN_ITEM
    )


def test_an_unreadable_label_is_refused_without_a_tag() -> None:
    effects = decide(snapshot(), scan("???"))
    _refused(effects, Refusal.UNREADABLE_LABEL, "无法识别标签")
    assert effects.changes == _scanned(
        Action.REFUSE, text="???", tag=None, reason=Refusal.UNREADABLE_LABEL
    )


def test_an_unknown_card_cannot_borrow_and_leaves_the_door_session_without_a_member() -> None:
    effects = decide(
        snapshot(item=DRILL, card=None, door=None), scan(card_uid="DEADBEEF", door_key="s9")
    )
    _refused(effects, Refusal.UNKNOWN_CARD, "未知卡片")
    door = DoorState("demo-hut", "s9", SessionMode.LENDING, NOW)
    assert effects.changes == (
        DoorOpened(door),
        *_scanned(Action.REFUSE, reason=Refusal.UNKNOWN_CARD, door=door),
    )


def test_without_a_card_a_held_item_asks_for_a_card_first() -> None:
    effects = decide(
        snapshot(item=item(status=ItemStatus.RESERVED), queue=(held(9, LI),), card=None, door=None),
        scan(card_uid=None, door_key=None),
    )
    _refused(effects, Refusal.NO_SESSION, "请先刷卡")
    # No door session: no scan row either; staff hear of a scan by nobody.
    assert effects.changes == (_nobody("T0001", item_id=7),)


def _nobody(text: str, *, item_id: int | None = None, door: DoorState | None = None) -> Change:
    detail = NOBODY_DETAIL.format(text=text)
    return AnomalyRaised(
        "demo-hut",
        AnomalyKind.SCAN_BY_NOBODY,
        NOW,
        detail,
        item_id=item_id,
        door=None if door is None else door.ref,
    )


def test_a_scan_by_nobody_keeps_only_the_start_of_its_text() -> None:
    text = "x" * 5000
    effects = decide(snapshot(door=None, card=None), scan(text, card_uid=None, door_key=None))
    [anomaly] = effects.changes
    assert isinstance(anomaly, AnomalyRaised)
    kept = text[: NOBODY_TEXT_KEPT - 1] + "…"
    assert anomaly.detail == NOBODY_DETAIL.format(text=kept)
    assert anomaly.detail.startswith("未刷卡的扫描 / ")


def test_a_scan_by_nobody_in_a_door_session_is_told_once_per_session() -> None:
    door = replace(DOOR, member_id=None, card_uid=None)
    first = decide(
        snapshot(door=door, card=None, consumable=PLASTERS), scan("C0001", card_uid=None)
    )
    _refused(first, Refusal.NO_SESSION, "请先刷卡")
    flagged = replace(door, flag=SessionFlag.NOBODY.value)
    assert first.changes[0] == _nobody("C0001", door=door)
    assert DoorChanged(replace(flagged, scans=1)) in first.changes
    again = decide(
        snapshot(door=replace(flagged, scans=1), card=None, consumable=PLASTERS),
        scan("C0001", card_uid=None),
    )
    assert again.reason is Refusal.NO_SESSION
    assert not any(isinstance(c, AnomalyRaised) for c in again.changes)


def test_a_scan_with_a_card_is_never_a_scan_by_nobody() -> None:
    effects = decide(snapshot(item=item(status=ItemStatus.RETIRED)), scan())
    assert effects.reason is Refusal.ITEM_UNAVAILABLE
    assert not any(isinstance(c, AnomalyRaised) for c in effects.changes)


# Returning.


def test_anyone_may_return_an_item_on_loan() -> None:
    effects = decide(snapshot(item=ON_LOAN, loan=LOAN, card=LI_CARD), scan(card_uid=LI_CARD.uid))
    _told(effects, Action.RETURN, "已归还 电钻")
    assert effects.changes == (
        LoanClosed(41, NOW, "demo-hut", None),
        ItemChanged(7, status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id="demo-hut"),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        *_scanned(Action.RETURN, loan=41),
    )


def test_a_return_at_another_hut_moves_the_item_there() -> None:
    elsewhere = item(status=ItemStatus.ON_LOAN, hut_id="hut-b")
    effects = decide(snapshot(item=elsewhere, loan=LOAN), scan())
    assert effects.changes[:2] == (
        LoanClosed(41, NOW, "demo-hut", None),
        ItemChanged(7, status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id="demo-hut"),
    )


def test_a_return_with_a_queue_holds_the_item_for_the_first_in_line() -> None:
    queue = (waiting(9, LI, days_ago=2), waiting(10, WANG, days_ago=1))
    effects = decide(snapshot(item=ON_LOAN, loan=LOAN, queue=queue), scan())
    _told(effects, Action.RETURN, "已归还 电钻")
    assert effects.changes == (
        LoanClosed(41, NOW, "demo-hut", None),
        ItemChanged(7, status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id="demo-hut"),
        HoldPlaced(9, HOLD_UNTIL),
        ItemChanged(7, status=ItemStatus.RESERVED),
        _notice(LI.id, 9),
        *_scanned(Action.RETURN, loan=41),
    )


def test_a_ready_notice_names_the_item_within_the_display() -> None:
    long_name = item(status=ItemStatus.ON_LOAN, name_zh="超长名字的多功能电动工具" * 4)
    effects = decide(snapshot(item=long_name, loan=LOAN, queue=(waiting(9, LI),)), scan())
    (notice,) = [c for c in effects.changes if isinstance(c, NoticeQueued)]
    assert notice.text.startswith("您预约的 超长名字") and notice.text.endswith("… 已可领取")
    assert len(notice.text.encode()) <= 64


# Condition cards.


def _returned(
    status: ItemStatus = ItemStatus.AVAILABLE, *queue: object, **fields: object
) -> object:
    return ReturnedLoan(LOAN, item(status=status, **fields), tuple(queue))  # type: ignore[arg-type]


ANOMALY_OF = {
    ItemCondition.NEEDS_REPAIR: (AnomalyKind.NEEDS_REPAIR, "returned needing repair"),
    ItemCondition.MISSING_PART: (AnomalyKind.MISSING_PART, "returned with a part missing"),
}


def _marked(condition: ItemCondition) -> tuple[Change, ...]:
    """The drill's loan and the drill marked ``condition``, and staff's anomaly for it."""
    marked: tuple[Change, ...] = (
        LoanConditionSet(41, condition),
        ItemChanged(7, condition=condition),
    )
    if condition in ANOMALY_OF:
        kind, detail = ANOMALY_OF[condition]
        marked += (AnomalyRaised("demo-hut", kind, NOW, detail, 7, 1, DOOR.ref),)
    return marked


def _condition_card(text: str, returned: object) -> Effects:
    return decide(snapshot(returned=returned), scan(text))


def test_a_repair_card_after_a_return_sends_the_item_to_maintenance() -> None:
    effects = _condition_card("COND:REPAIR", _returned())
    _told(effects, Action.CONDITION, "已记录 需维修 谢谢")
    assert effects.changes == (
        *_marked(ItemCondition.NEEDS_REPAIR),
        ItemChanged(7, status=ItemStatus.MAINTENANCE),
        *_scanned(Action.CONDITION, text="COND:REPAIR", tag=None),
    )


def test_a_repair_card_unholds_a_reservation_and_withdraws_its_notice() -> None:
    effects = _condition_card("COND:REPAIR", _returned(ItemStatus.RESERVED, held(9, LI)))
    assert effects.changes == (
        *_marked(ItemCondition.NEEDS_REPAIR),
        HoldWithdrawn(9),
        NoticesWithdrawn(9),
        ItemChanged(7, status=ItemStatus.MAINTENANCE),
        *_scanned(Action.CONDITION, text="COND:REPAIR", tag=None),
    )


def test_a_repair_corrected_within_the_session_holds_the_item_again() -> None:
    broken = _returned(ItemStatus.MAINTENANCE, waiting(9, LI), condition=ItemCondition.NEEDS_REPAIR)
    effects = _condition_card("COND:OK", broken)
    _told(effects, Action.CONDITION, "已记录 完好")
    assert effects.changes == (
        *_marked(ItemCondition.OK),
        HoldPlaced(9, HOLD_UNTIL),
        ItemChanged(7, status=ItemStatus.RESERVED),
        _notice(LI.id, 9),
        *_scanned(Action.CONDITION, text="COND:OK", tag=None),
    )


def test_a_repair_corrected_with_nobody_waiting_frees_the_item() -> None:
    broken = _returned(ItemStatus.MAINTENANCE, condition=ItemCondition.NEEDS_REPAIR)
    effects = _condition_card("COND:MISSING", broken)
    _told(effects, Action.CONDITION, "已记录 缺少配件 谢谢")
    assert effects.changes == (
        *_marked(ItemCondition.MISSING_PART),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        *_scanned(Action.CONDITION, text="COND:MISSING", tag=None),
    )


def test_a_missing_part_is_an_anomaly_but_the_item_still_goes_out() -> None:
    effects = _condition_card("COND:MISSING", _returned())
    assert effects.changes == (
        *_marked(ItemCondition.MISSING_PART),
        *_scanned(Action.CONDITION, text="COND:MISSING", tag=None),
    )


def test_a_condition_card_before_the_item_waits_for_the_next_return() -> None:
    effects = _condition_card("COND:REPAIR", None)
    _told(effects, Action.CONDITION, "请扫描归还的物品")
    pending = after_scan(pending_condition=ItemCondition.NEEDS_REPAIR)
    assert effects.changes == (
        DoorChanged(pending),
        _recorded(Action.CONDITION, text="COND:REPAIR", tag=None),
    )
    # The return it waited for: in the workshop, nobody's hold, the door session cleared.
    queue = (waiting(9, LI),)
    back = decide(snapshot(door=pending, item=ON_LOAN, loan=LOAN, queue=queue), scan())
    _told(back, Action.RETURN, "已归还 电钻")
    assert back.changes == (
        LoanClosed(41, NOW, "demo-hut", ItemCondition.NEEDS_REPAIR),
        ItemChanged(7, status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id="demo-hut"),
        *_marked(ItemCondition.NEEDS_REPAIR),
        ItemChanged(7, status=ItemStatus.MAINTENANCE),
        DoorChanged(after_scan(pending, pending_condition=None)),
        _recorded(Action.RETURN, loan=41),
    )


def test_an_ok_card_before_the_item_is_recorded_on_the_loan_only() -> None:
    pending = replace(DOOR, pending_condition=ItemCondition.OK, scans=1)
    back = decide(snapshot(door=pending, item=ON_LOAN, loan=LOAN), scan())
    assert back.changes == (
        LoanClosed(41, NOW, "demo-hut", ItemCondition.OK),
        ItemChanged(7, status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id="demo-hut"),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        DoorChanged(after_scan(pending, pending_condition=None)),
        _recorded(Action.RETURN, loan=41),
    )


def test_a_condition_card_without_a_door_session_is_refused() -> None:
    effects = decide(snapshot(door=None, card=None), scan("COND:OK", card_uid=None, door_key=None))
    _refused(effects, Refusal.NO_SESSION, "请先刷卡")
    assert effects.changes == (_nobody("COND:OK"),)


# Found: back on the shelf without an open loan.


def _found_anomaly(
    was: ItemStatus, *, member_id: int | None = 1, door: object = DOOR.ref
) -> Change:
    detail = f"scanned with no open loan (was {was})"
    return AnomalyRaised(
        "demo-hut",
        AnomalyKind.RETURN_NOT_ON_LOAN,
        NOW,
        detail,
        7,
        member_id,
        door,  # type: ignore[arg-type]
    )


def test_a_lost_item_scanned_again_is_found_and_back_on_the_shelf() -> None:
    lost = item(status=ItemStatus.LOST, hut_id="hut-b")
    effects = decide(snapshot(item=lost), scan())
    _told(effects, Action.FOUND, "已收到 电钻")
    assert effects.changes == (
        ItemChanged(7, hut_id="demo-hut"),
        _found_anomaly(ItemStatus.LOST),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        *_scanned(Action.FOUND),
    )


def test_a_found_item_someone_waits_for_is_held_for_them() -> None:
    effects = decide(snapshot(item=item(status=ItemStatus.LOST), queue=(waiting(9, LI),)), scan())
    assert effects.changes == (
        ItemChanged(7, hut_id="demo-hut"),
        _found_anomaly(ItemStatus.LOST),
        HoldPlaced(9, HOLD_UNTIL),
        ItemChanged(7, status=ItemStatus.RESERVED),
        _notice(LI.id, 9),
        *_scanned(Action.FOUND),
    )


def test_a_found_item_needing_repair_goes_to_maintenance() -> None:
    broken = item(status=ItemStatus.LOST, condition=ItemCondition.NEEDS_REPAIR)
    effects = decide(snapshot(item=broken), scan())
    assert effects.changes == (
        ItemChanged(7, hut_id="demo-hut"),
        _found_anomaly(ItemStatus.LOST),
        ItemChanged(7, status=ItemStatus.MAINTENANCE),
        *_scanned(Action.FOUND),
    )


def test_an_item_scanned_without_card_or_door_session_is_found() -> None:
    effects = decide(snapshot(item=DRILL, card=None, door=None), scan(card_uid=None, door_key=None))
    _told(effects, Action.FOUND, "已收到 电钻")
    assert effects.changes == (
        ItemChanged(7, hut_id="demo-hut"),
        _found_anomaly(ItemStatus.AVAILABLE, member_id=None, door=None),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
    )


# Holds that ran out before the scan.


def test_an_expired_hold_passes_to_the_next_in_line_before_the_scan() -> None:
    queue = (held(9, LI, hours_left=-1, days_ago=3), waiting(10, WANG))
    effects = decide(snapshot(item=item(status=ItemStatus.RESERVED), queue=queue), scan())
    _refused(effects, Refusal.RESERVED_FOR_OTHER, "电钻 已为他人预留")
    assert effects.changes == (
        ReservationClosed(9, ReservationStatus.EXPIRED, NOW),
        HoldPlaced(10, HOLD_UNTIL),
        ItemChanged(7, status=ItemStatus.RESERVED),
        _notice(WANG.id, 10),
        *_scanned(Action.REFUSE, reason=Refusal.RESERVED_FOR_OTHER),
    )


def test_an_expired_hold_with_nobody_after_frees_the_item_for_the_scanner() -> None:
    queue = (held(9, LI, hours_left=-1),)
    effects = decide(snapshot(item=item(status=ItemStatus.RESERVED), queue=queue), scan())
    _told(effects, Action.BORROW, "已借出 电钻 还期11-30")
    assert effects.changes == (
        ReservationClosed(9, ReservationStatus.EXPIRED, NOW),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        ItemChanged(7, status=ItemStatus.ON_LOAN),
        LoanOpened(7, 1, "demo-hut", NOW, DUE),
        *_scanned(Action.BORROW, loan=NEW_LOAN),
    )


def test_a_hold_running_out_exactly_now_has_expired() -> None:
    queue = (held(9, ZHANG, hours_left=0),)
    effects = decide(snapshot(item=item(status=ItemStatus.RESERVED), queue=queue), scan())
    assert effects.changes[0] == ReservationClosed(9, ReservationStatus.EXPIRED, NOW)


# Consumables.

PLASTERS = ConsumableState(
    20,
    "C0001",
    "创可贴",
    (
        BatchState(1, 30, date(2027, 6, 30)),
        BatchState(2, 0, date(2026, 12, 1)),
        BatchState(3, 5, date(2026, 12, 15)),
        BatchState(4, 2, None),
    ),
)


def test_a_consumable_is_taken_from_the_batch_that_expires_first() -> None:
    effects = decide(snapshot(consumable=PLASTERS), scan("C0001"))
    _told(effects, Action.TAKE, "已领取 创可贴 剩36")
    assert effects.changes == (
        ConsumableTaken(3),
        *_scanned(Action.TAKE, text="C0001", tag="C0001"),
    )


def test_undated_batches_go_last() -> None:
    undated = replace(
        PLASTERS, batches=(BatchState(4, 2, None), BatchState(5, 1, date(2030, 1, 1)))
    )
    assert ConsumableTaken(5) in decide(snapshot(consumable=undated), scan("C0001")).changes


def test_an_empty_consumable_is_out_of_stock() -> None:
    empty = ConsumableState(21, "C0003", "医用纱布", (BatchState(6, 0, None),))
    effects = decide(snapshot(consumable=empty), scan("C0003"))
    _refused(effects, Refusal.OUT_OF_STOCK, "医用纱布 已用完")
    assert effects.changes == _scanned(
        Action.REFUSE, text="C0003", tag="C0003", reason=Refusal.OUT_OF_STOCK
    )


def test_a_consumable_needs_a_card() -> None:
    effects = decide(snapshot(consumable=PLASTERS, card=None), scan("C0001", card_uid=None))
    _refused(effects, Refusal.NO_SESSION, "请先刷卡")
    assert not any(isinstance(c, ConsumableTaken) for c in effects.changes)


# Stocktakes.


def _count(text: str, counted: dict[str, int], **fields: object) -> Effects:
    base = snapshot(card=STAFF_CARD, door=STOCKTAKE, counted=counted, **fields)
    return decide(base, scan(text, card_uid=STAFF_CARD.uid, door_key="s2"))


def test_a_stocktake_scan_counts_and_lends_nothing() -> None:
    effects = _count("T0001", {"T0002": 1}, item=ON_LOAN, loan=LOAN)
    _told(effects, Action.COUNT, "盘点 电钻 共2件")
    assert effects.changes == _scanned(Action.COUNT, door=STOCKTAKE)


def test_a_tag_counted_again_or_unknown_keeps_the_count_of_tags() -> None:
    _told(_count("T0001", {"T0001": 1}, item=DRILL), Action.COUNT, "盘点 电钻 共1件")
    _told(_count("X9999", {"T0001": 1}), Action.COUNT, "盘点 X9999 共2件")


def test_an_unreadable_label_in_a_stocktake_is_refused() -> None:
    effects = _count("???", {})
    _refused(effects, Refusal.UNREADABLE_LABEL, "无法识别标签")
    assert effects.changes == _scanned(
        Action.REFUSE, text="???", tag=None, reason=Refusal.UNREADABLE_LABEL, door=STOCKTAKE
    )


def test_closing_a_stocktake_writes_its_report() -> None:
    shelf = Shelf(expected={"T0001": 7, "T0002": 8}, others={"T0009": 15})
    counted = {"T0002": 2, "T0009": 1, "X9999": 1}
    opened = replace(STOCKTAKE, scans=4)
    effects = decide(
        snapshot(card=None, door=opened, counted=counted, shelf=shelf),
        DoorChange("s2", opened=False),
    )
    assert effects.decision is None
    assert effects.changes == (
        StocktakeClosed(
            opened.ref,
            NOW,
            (
                StocktakeLineChange("T0001", 7, "missing", 0),
                StocktakeLineChange("T0002", 8, "seen", 2),
                StocktakeLineChange("T0009", 15, "unexpected", 1),
                StocktakeLineChange("X9999", None, "unexpected", 1),
            ),
        ),
        DoorChanged(replace(opened, closed_at=NOW, stocktake_closed=True)),
    )


def test_a_stocktake_with_nothing_scanned_is_not_flagged() -> None:
    effects = decide(snapshot(door=STOCKTAKE, shelf=Shelf()), DoorChange("s2", opened=False))
    assert not any(isinstance(c, AnomalyRaised) for c in effects.changes)
    assert effects.changes[-1] == DoorChanged(
        replace(STOCKTAKE, closed_at=NOW, stocktake_closed=True)
    )


def test_a_staff_card_joining_a_door_session_turns_it_into_a_stocktake() -> None:
    anonymous = DoorState("demo-hut", "s2", SessionMode.LENDING, NOW + timedelta(seconds=5))
    effects = decide(
        snapshot(card=STAFF_CARD, door=anonymous), CardTap(STAFF_CARD.uid, "s2", unlocked=True)
    )
    staff_door = replace(
        anonymous,
        mode=SessionMode.STOCKTAKE,
        member_id=STAFF.id,
        card_uid=STAFF_CARD.uid,
        started_at=NOW,
        has_stocktake=True,
    )
    assert effects.changes == (
        DoorChanged(staff_door),
        StocktakeOpened(staff_door.ref, STAFF.id, NOW),
    )


# Door sessions and their events in any order.


def _door(opened: bool, door: DoorState | None, *, at: datetime = NOW) -> Effects:
    return decide(snapshot(door=door, now=at), DoorChange("s1", opened=opened))


def test_a_door_closed_after_scans_is_not_flagged() -> None:
    busy = replace(DOOR, door_opened_at=NOW, scans=2)
    assert _door(False, busy).changes == (DoorChanged(replace(busy, closed_at=NOW)),)


def test_a_door_closed_twice_changes_nothing_the_second_time() -> None:
    closed = replace(DOOR, door_opened_at=NOW, closed_at=NOW, flag="unscanned")
    assert _door(False, closed).changes == ()


def test_a_close_before_its_open_opens_the_door_session_closed_and_unflagged() -> None:
    first = DoorState("demo-hut", "s1", SessionMode.LENDING, NOW)
    effects = _door(False, None)
    closed = replace(first, closed_at=NOW)
    assert effects.changes == (DoorOpened(first), DoorChanged(closed))
    late_open = _door(True, closed, at=NOW - timedelta(seconds=30))
    assert late_open.changes == (
        DoorChanged(replace(closed, door_opened_at=NOW - timedelta(seconds=30))),
    )


def test_the_earliest_door_open_is_kept() -> None:
    opened = replace(DOOR, door_opened_at=NOW)
    assert _door(True, opened, at=NOW + timedelta(seconds=1)).changes == ()
    earlier = _door(True, opened, at=NOW - timedelta(seconds=1))
    assert earlier.changes == (
        DoorChanged(replace(DOOR, door_opened_at=NOW - timedelta(seconds=1))),
    )


def test_a_card_tap_after_the_door_sessions_scan_names_its_member_and_start() -> None:
    anonymous = DoorState("demo-hut", "s1", SessionMode.LENDING, NOW, scans=1)
    tap = decide(
        snapshot(door=anonymous, now=NOW - timedelta(seconds=10)),
        CardTap(CARD.uid, "s1", unlocked=True),
    )
    assert tap.changes == (
        DoorChanged(
            replace(
                anonymous, member_id=1, card_uid=CARD.uid, started_at=NOW - timedelta(seconds=10)
            )
        ),
    )


def test_a_card_tap_opens_the_door_session_once() -> None:
    tap = CardTap(CARD.uid, "s1", unlocked=True)
    assert decide(snapshot(door=None), tap).changes == (DoorOpened(DOOR),)
    assert decide(snapshot(door=DOOR), tap).changes == ()


@pytest.mark.parametrize(
    "tap",
    [CardTap(CARD.uid, "s1", unlocked=False), CardTap(CARD.uid, None, unlocked=True)],
    ids=["denied", "no-door-session"],
)
def test_a_tap_that_opens_no_door_changes_nothing(tap: CardTap) -> None:
    effects = decide(snapshot(door=None), tap)
    assert effects == Effects()


def test_a_door_change_without_a_door_session_changes_nothing() -> None:
    assert decide(snapshot(door=None), DoorChange(None, opened=True)) == Effects()


def test_a_scan_opens_the_door_session_it_names() -> None:
    effects = decide(snapshot(door=None, item=DRILL), scan())
    assert effects.changes[0] == DoorOpened(DOOR)
    assert effects.changes[-2:] == _scanned(Action.BORROW, loan=NEW_LOAN)


# Enrolment.


@pytest.mark.parametrize(("card", "member_id"), [(CARD, 1), (None, None)], ids=["known", "unknown"])
def test_an_enrol_read_records_the_card_and_its_member(card: object, member_id: int | None) -> None:
    effects = decide(snapshot(card=card, door=None), EnrolRead("04a1b2c3", "e-1"))
    assert effects == Effects((EnrolmentRead("demo-hut", "04A1B2C3", "e-1", NOW, member_id),))


def test_every_hut_command_names_the_time_of_the_step() -> None:
    # A check that the builders' NOW is what the rules stamp (not the wall clock).
    effects = decide(snapshot(item=ON_LOAN, loan=LOAN), scan())
    stamped = [getattr(c, "at", NOW) for c in effects.changes]
    assert set(stamped) == {NOW}
