"""The ledger's rules in plain Python, with a fixed clock: limits, holds, renewals,
reservations, condition cards, consumables, sessions and stocktakes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from server.domain import (
    Action,
    BatchView,
    Category,
    Decision,
    ItemCondition,
    ItemStatus,
    ItemView,
    LoanView,
    MemberFlag,
    MemberStatus,
    MemberView,
    Refusal,
    SessionFlag,
    SessionMode,
    StocktakeResult,
    StockView,
    check_reservation,
    decide_renewal,
    decide_take,
    expiring,
    flag_on_close,
    parse_condition_text,
    parse_scan_text,
    restock_needed,
    session_mode,
    status_after_return,
    stocktake_report,
)
from server.domain.lending import _REFUSAL_TEXT, MAX_DISPLAY_BYTES, hold_until
from tests.server.domain_cases import DRILL, NOW, SHANGHAI, ZHANG, decide

SENIOR = MemberView("王大爷", MemberStatus.ACTIVE, flags=frozenset({MemberFlag.SENIOR}))


def test_senior_flag_lengthens_the_loan() -> None:
    decision = decide(member=SENIOR)
    assert decision.action is Action.BORROW
    assert decision.due_at == NOW + timedelta(days=5)


def test_item_override_beats_the_category_period() -> None:
    long_drill = ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.AVAILABLE, loan_days=10)
    assert decide(item=long_drill).due_at == NOW + timedelta(days=10)


def test_over_the_loan_limit_is_refused() -> None:
    # Power tools: two at a time per member.
    assert decide(open_loans_in_category=1).action is Action.BORROW
    decision = decide(open_loans_in_category=2)
    assert decision.reason is Refusal.OVER_LIMIT
    assert decision.feedback.text == "已达借用上限 请先归还"
    fitness = ItemView("T0005", "哑铃", Category.FITNESS, ItemStatus.AVAILABLE)
    assert decide(item=fitness, open_loans_in_category=1).action is Action.BORROW
    ladder = ItemView("T0003", "梯子", Category.LADDERS, ItemStatus.AVAILABLE)
    assert decide(item=ladder, open_loans_in_category=1).reason is Refusal.OVER_LIMIT


def test_reserved_item_goes_only_to_its_holder() -> None:
    held = ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.RESERVED)
    other = decide(item=held, held_for_member=False)
    assert other.reason is Refusal.RESERVED_FOR_OTHER
    assert other.feedback.text == "电钻 已为他人预留"
    assert decide(item=held, held_for_member=True).action is Action.BORROW


def test_needs_repair_blocks_lending_even_if_status_says_available() -> None:
    broken = ItemView(
        "T0001", "电钻", Category.POWER_TOOLS, ItemStatus.AVAILABLE, ItemCondition.NEEDS_REPAIR
    )
    assert decide(item=broken).reason is Refusal.ITEM_IN_MAINTENANCE


@pytest.mark.parametrize("status", [ItemStatus.LOST, ItemStatus.AVAILABLE])
def test_item_back_without_a_loan_is_found_not_refused(status: ItemStatus) -> None:
    item = ItemView("T0001", "电钻", Category.POWER_TOOLS, status)
    card = "04A1B2C3" if status is ItemStatus.LOST else None
    decision = decide(item=item, card=card, member=ZHANG if card else None)
    assert decision.action is Action.FOUND
    assert decision.feedback.ok and decision.feedback.text == "已收到 电钻"


def _renew(**overrides: object) -> Decision:
    args: dict[str, object] = {
        "item": DRILL,
        "loan": LoanView(NOW - timedelta(days=2), NOW + timedelta(days=1)),
        "member": ZHANG,
        "waiting": 0,
        "now": NOW,
        "tz": SHANGHAI,
    }
    args.update(overrides)
    return decide_renewal(**args)  # type: ignore[arg-type]


def test_renewal_extends_from_the_due_date() -> None:
    decision = _renew()
    assert decision.action is Action.RENEW
    assert decision.due_at == NOW + timedelta(days=4)


def test_overdue_renewal_starts_now() -> None:
    late = LoanView(NOW - timedelta(days=5), NOW - timedelta(days=2))
    assert _renew(loan=late).due_at == NOW + timedelta(days=3)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"loan": None}, Refusal.NOT_ON_LOAN),
        ({"member": MemberView("王", MemberStatus.SUSPENDED)}, Refusal.MEMBER_SUSPENDED),
        ({"waiting": 1}, Refusal.RESERVATION_WAITING),
        ({"loan": LoanView(NOW, NOW + timedelta(days=3), renewals=1)}, Refusal.MAX_RENEWALS),
        (
            {"item": ItemView("T0003", "梯子", Category.LADDERS, ItemStatus.ON_LOAN)},
            Refusal.MAX_RENEWALS,  # ladders: no renewal at all
        ),
    ],
)
def test_renewal_refusals(overrides: dict[str, object], reason: Refusal) -> None:
    decision = _renew(**overrides)
    assert decision.action is Action.REFUSE
    assert decision.reason is reason


def test_item_max_renewals_override() -> None:
    generous = ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.ON_LOAN, max_renewals=3)
    loan = LoanView(NOW, NOW + timedelta(days=3), renewals=2)
    assert _renew(item=generous, loan=loan).action is Action.RENEW


@pytest.mark.parametrize(
    ("status", "member", "borrower", "queued", "reason"),
    [
        (ItemStatus.ON_LOAN, ZHANG, False, False, None),
        (ItemStatus.RESERVED, ZHANG, False, False, None),
        (ItemStatus.AVAILABLE, ZHANG, False, False, Refusal.ITEM_AVAILABLE),
        (ItemStatus.RETIRED, ZHANG, False, False, Refusal.ITEM_UNAVAILABLE),
        (ItemStatus.ON_LOAN, ZHANG, True, False, Refusal.OWN_LOAN),
        (ItemStatus.ON_LOAN, ZHANG, False, True, Refusal.ALREADY_QUEUED),
        (
            ItemStatus.ON_LOAN,
            MemberView("王", MemberStatus.SUSPENDED),
            False,
            False,
            Refusal.MEMBER_SUSPENDED,
        ),
    ],
)
def test_reservation_rules(
    status: ItemStatus, member: MemberView, borrower: bool, queued: bool, reason: Refusal | None
) -> None:
    item = ItemView("T0001", "电钻", Category.POWER_TOOLS, status)
    assert (
        check_reservation(
            item=item, member=member, borrower_is_member=borrower, already_queued=queued
        )
        is reason
    )


def test_status_after_return_and_hold_time() -> None:
    assert status_after_return(condition=ItemCondition.OK, waiting=False) is ItemStatus.AVAILABLE
    assert status_after_return(condition=ItemCondition.OK, waiting=True) is ItemStatus.RESERVED
    assert (
        status_after_return(condition=ItemCondition.NEEDS_REPAIR, waiting=True)
        is ItemStatus.MAINTENANCE
    )
    assert (
        status_after_return(condition=ItemCondition.MISSING_PART, waiting=False)
        is ItemStatus.AVAILABLE
    )
    assert hold_until(category=Category.POWER_TOOLS, now=NOW) == NOW + timedelta(hours=24)
    assert hold_until(category=Category.LADDERS, now=NOW) == NOW + timedelta(hours=4)


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("COND:OK", ItemCondition.OK),
        (" cond:repair\r\n", ItemCondition.NEEDS_REPAIR),
        ("COND:MISSING", ItemCondition.MISSING_PART),
        ("COND:BROKEN", None),
        ("T0001", None),
    ],
)
def test_condition_cards(text: str, condition: ItemCondition | None) -> None:
    assert parse_condition_text(text) is condition
    if condition is not None:
        assert parse_scan_text(text) is None  # never mistaken for an item tag


def test_consumable_take() -> None:
    ok = decide_take(name="创可贴", quantity=3, card="04A1B2C3", member=ZHANG)
    assert ok.action is Action.TAKE and ok.feedback.text == "已领取 创可贴 剩2"
    empty = decide_take(name="创可贴", quantity=0, card="04A1B2C3", member=ZHANG)
    assert empty.reason is Refusal.OUT_OF_STOCK
    assert decide_take(name="创可贴", quantity=3, card=None, member=None).reason is (
        Refusal.NO_SESSION
    )


def test_restock_needed_lists_stock_at_or_below_minimum() -> None:
    stock = [
        StockView("C0001", "创可贴", "hut-a", 35, 10),
        StockView("C0003", "纱布", "hut-a", 4, 5),
        StockView("C0002", "棉签", "hut-a", 5, 5),
    ]
    assert [s.tag for s in restock_needed(stock)] == ["C0003", "C0002"]


def test_expiring_within_30_days_in_the_huts_calendar() -> None:
    batches = [
        BatchView("C0001", "创可贴", "hut-a", 5, date(2026, 12, 27)),  # day 30 in Shanghai
        BatchView("C0001", "创可贴", "hut-a", 30, date(2026, 12, 28)),
        BatchView("C0002", "棉签", "hut-a", 2, date(2026, 11, 1)),  # already expired
        BatchView("C0002", "棉签", "hut-a", 0, date(2026, 11, 30)),  # used up
        BatchView("C0003", "纱布", "hut-a", 4, None),  # no date
    ]
    soon = expiring(batches, NOW)
    assert [(b.tag, b.expires_on) for b in soon] == [
        ("C0002", date(2026, 11, 1)),
        ("C0001", date(2026, 12, 27)),
    ]
    # 20:00 UTC is already the next day in Shanghai: one more day comes into range.
    late = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    assert len(expiring(batches, late)) == 3


def test_sessions_and_stocktake_report() -> None:
    assert session_mode({MemberFlag.STAFF}) is SessionMode.STOCKTAKE
    assert session_mode({MemberFlag.SENIOR}) is SessionMode.LENDING
    lending = SessionMode.LENDING
    assert flag_on_close(mode=lending, door_opened=True, scans=0) is SessionFlag.UNSCANNED
    assert flag_on_close(mode=lending, door_opened=False, scans=0) is None
    assert flag_on_close(mode=lending, door_opened=True, scans=1) is None
    assert flag_on_close(mode=SessionMode.STOCKTAKE, door_opened=True, scans=0) is None
    report = stocktake_report(expected={"T1", "T2", "T3"}, seen={"T1": 2, "T9": 1})
    assert [(line.tag, line.result, line.count) for line in report] == [
        ("T2", StocktakeResult.MISSING, 0),
        ("T3", StocktakeResult.MISSING, 0),
        ("T1", StocktakeResult.SEEN, 2),
        ("T9", StocktakeResult.UNEXPECTED, 1),
    ]


@pytest.mark.parametrize("reason", list(Refusal))
def test_every_refusal_fits_the_display_with_a_long_name(reason: Refusal) -> None:
    from server.domain.lending import refuse

    text = refuse(reason, name="超长的物品名称" * 10).feedback.text
    assert len(text.encode()) <= MAX_DISPLAY_BYTES
    assert reason in _REFUSAL_TEXT
