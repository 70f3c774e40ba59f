"""Staff set an item's status by hand (SetItemStatus), without a database: the refusals,
the waiting list where an item comes back or goes away, and the history line."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from server.domain import Category, ItemCondition, ItemStatus, Refusal
from server.domain.changes import (
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    ItemStatusSet,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationClosed,
)
from server.domain.ledger_state import (
    ItemState,
    LoanState,
    ReservationState,
    ReservationStatus,
    Snapshot,
)
from server.domain.rule_book import decide
from server.domain.staff_rules import SetItemStatus
from tests.server.domain_cases import NOW
from tests.server.rule_builders import HUT

SHELF = ItemState(
    7, "T0001", "电钻", Category.POWER_TOOLS, ItemStatus.AVAILABLE, ItemCondition.OK, "demo-hut"
)
WAITING = ReservationState(9, 7, 2, ReservationStatus.WAITING, NOW - timedelta(days=1))


def _set(status: ItemStatus) -> SetItemStatus:
    return SetItemStatus("T0001", status, "盘点", "staff-1")


def _snapshot(status: ItemStatus, **fields: object) -> Snapshot:
    base: dict[str, object] = {"hut": HUT, "now": NOW, "item": replace(SHELF, status=status)}
    return Snapshot(**(base | fields))  # type: ignore[arg-type]


def _history(was: ItemStatus, now: ItemStatus) -> ItemStatusSet:
    return ItemStatusSet(7, was, now, "盘点", NOW, "staff-1")


@pytest.mark.parametrize(
    "status", [ItemStatus.MAINTENANCE, ItemStatus.RETIRED, ItemStatus.LOST, ItemStatus.AVAILABLE]
)
def test_an_item_on_loan_keeps_its_status(status: ItemStatus) -> None:
    loan = LoanState(41, 7, 1, NOW - timedelta(days=1), NOW + timedelta(days=2))
    effects = decide(_snapshot(ItemStatus.ON_LOAN, loan=loan), _set(status))
    assert effects.changes == () and effects.reason is Refusal.ITEM_ON_LOAN


def test_the_status_it_has_already_is_refused() -> None:
    effects = decide(_snapshot(ItemStatus.RETIRED), _set(ItemStatus.RETIRED))
    assert effects.changes == () and effects.reason is Refusal.STATUS_UNCHANGED


def test_a_held_item_is_not_made_available_by_hand() -> None:
    held = replace(WAITING, state=ReservationStatus.HELD, hold_until=NOW + timedelta(hours=5))
    effects = decide(_snapshot(ItemStatus.RESERVED, queue=(held,)), _set(ItemStatus.AVAILABLE))
    assert effects.reason is Refusal.RESERVED_FOR_OTHER


def test_retired_cancels_the_waiting_list_and_says_why() -> None:
    effects = decide(_snapshot(ItemStatus.AVAILABLE, queue=(WAITING,)), _set(ItemStatus.RETIRED))
    assert effects.changes == (
        ReservationClosed(9, ReservationStatus.CANCELLED, NOW),
        ItemChanged(7, status=ItemStatus.RETIRED),
        _history(ItemStatus.AVAILABLE, ItemStatus.RETIRED),
    )


def test_to_the_workshop_a_hold_goes_back_to_waiting() -> None:
    held = replace(WAITING, state=ReservationStatus.HELD, hold_until=NOW + timedelta(hours=5))
    effects = decide(_snapshot(ItemStatus.RESERVED, queue=(held,)), _set(ItemStatus.MAINTENANCE))
    assert effects.changes == (
        HoldWithdrawn(9),
        NoticesWithdrawn(9),
        ItemChanged(7, status=ItemStatus.MAINTENANCE),
        _history(ItemStatus.RESERVED, ItemStatus.MAINTENANCE),
    )


def test_found_goes_to_the_first_in_line() -> None:
    effects = decide(_snapshot(ItemStatus.LOST, queue=(WAITING,)), _set(ItemStatus.AVAILABLE))
    changes = effects.changes
    assert HoldPlaced(9, NOW + timedelta(hours=24)) in changes
    assert ItemChanged(7, status=ItemStatus.RESERVED) in changes
    assert any(isinstance(c, NoticeQueued) for c in changes)
    assert changes[-1] == _history(ItemStatus.LOST, ItemStatus.RESERVED)


def test_out_of_the_workshop_is_a_repair_cleared() -> None:
    repaired = replace(SHELF, status=ItemStatus.MAINTENANCE, condition=ItemCondition.NEEDS_REPAIR)
    effects = decide(_snapshot(ItemStatus.MAINTENANCE, item=repaired), _set(ItemStatus.AVAILABLE))
    assert effects.changes == (
        ItemChanged(7, condition=ItemCondition.OK),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        _history(ItemStatus.MAINTENANCE, ItemStatus.AVAILABLE),
    )


def test_statuses_that_follow_from_loans_are_not_set_by_hand() -> None:
    with pytest.raises(ValueError, match="on_loan"):
        decide(_snapshot(ItemStatus.AVAILABLE), _set(ItemStatus.ON_LOAN))
