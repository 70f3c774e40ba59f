"""The waiting-list rules (server/domain/holds.py) on their own, pure: who is first in line,
how long a hold lasts, what a withdrawn or expired hold leaves, in which order."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from server.domain import Category, CategoryRule, ItemStatus, MemberFlag
from server.domain.changes import (
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationClosed,
)
from server.domain.holds import (
    Line,
    cancel_all,
    fulfil,
    hold_next,
    in_turn,
    release_if_expired,
    unhold,
)
from server.domain.ledger_state import NotificationKind, ReservationStatus
from server.domain.policy import DEFAULT_POLICY
from tests.server.domain_cases import NOW
from tests.server.rule_builders import LI, WANG, ZHANG, held, item, waiting

RESERVED = item(status=ItemStatus.RESERVED)
READY = "您预约的 电钻 已可领取"


def _states(line: Line) -> list[tuple[int, ReservationStatus]]:
    return [(r.id, r.state) for r in line.queue]


def test_nobody_waiting_puts_the_item_on_the_shelf() -> None:
    line = hold_next(Line(item(status=ItemStatus.MAINTENANCE)), now=NOW, policy=DEFAULT_POLICY)
    assert line.changes == (ItemChanged(7, status=ItemStatus.AVAILABLE),)
    assert line.item.status is ItemStatus.AVAILABLE


def test_the_first_in_line_gets_the_hold_and_the_ready_notice() -> None:
    queue = (waiting(9, LI, days_ago=3), waiting(10, WANG, days_ago=1))
    line = hold_next(Line(item(), queue), now=NOW, policy=DEFAULT_POLICY)
    until = NOW + timedelta(hours=24)
    assert line.changes == (
        HoldPlaced(9, until),
        ItemChanged(7, status=ItemStatus.RESERVED),
        NoticeQueued(
            NotificationKind.RESERVATION_READY,
            LI.id,
            7,
            "demo-hut",
            9,
            "您预约的 电钻 已可领取",
            NOW,
        ),
    )
    assert _states(line) == [(9, ReservationStatus.HELD), (10, ReservationStatus.WAITING)]
    assert line.hold is not None and line.hold.hold_until == until


def test_a_ladder_is_held_four_hours() -> None:
    ladder = item(category=Category.LADDERS, name_zh="梯子")
    line = hold_next(Line(ladder, (waiting(9, LI),)), now=NOW, policy=DEFAULT_POLICY)
    assert line.changes[0] == HoldPlaced(9, NOW + timedelta(hours=4))


def test_unhold_puts_the_holder_back_at_the_head_of_the_line() -> None:
    queue = (held(9, LI, days_ago=3), waiting(10, WANG, days_ago=1))
    line = unhold(Line(RESERVED, queue))
    assert line.changes == (HoldWithdrawn(9), NoticesWithdrawn(9))
    assert _states(line) == [(9, ReservationStatus.WAITING), (10, ReservationStatus.WAITING)]
    assert line.queue[0].hold_until is None
    assert unhold(Line(item(), (waiting(10, WANG),))).changes == ()


def test_an_expired_hold_passes_on_and_a_live_one_stays() -> None:
    queue = (held(9, LI, hours_left=-2, days_ago=3), waiting(10, WANG))
    line = release_if_expired(Line(RESERVED, queue), now=NOW, policy=DEFAULT_POLICY)
    assert line.changes[:2] == (
        ReservationClosed(9, ReservationStatus.EXPIRED, NOW),
        HoldPlaced(10, NOW + timedelta(hours=24)),
    )
    assert _states(line) == [(10, ReservationStatus.HELD)]
    live = Line(RESERVED, (held(9, LI, hours_left=2),))
    assert release_if_expired(live, now=NOW, policy=DEFAULT_POLICY) == live


def test_an_expired_hold_on_an_item_not_reserved_is_only_closed() -> None:
    # The item went to the workshop meanwhile: the next in line waits for it to be cleared.
    workshop = item(status=ItemStatus.MAINTENANCE)
    queue = (held(9, LI, hours_left=-1), waiting(10, WANG))
    line = release_if_expired(Line(workshop, queue), now=NOW, policy=DEFAULT_POLICY)
    assert line.changes == (ReservationClosed(9, ReservationStatus.EXPIRED, NOW),)
    assert _states(line) == [(10, ReservationStatus.WAITING)]


def test_fulfil_and_cancel_close_places_in_the_line() -> None:
    hold = held(9, ZHANG)
    queue = (hold, waiting(10, LI), waiting(11, WANG))
    done = fulfil(Line(RESERVED, queue), hold, now=NOW)
    assert done.changes == (ReservationClosed(9, ReservationStatus.FULFILLED, NOW),)
    cancelled = cancel_all(done, now=NOW)
    assert cancelled.changes[1:] == (
        ReservationClosed(10, ReservationStatus.CANCELLED, NOW),
        ReservationClosed(11, ReservationStatus.CANCELLED, NOW),
    )
    assert cancelled.queue == ()


def test_the_line_keeps_first_come_first_served_whatever_order_it_was_given() -> None:
    late, early = waiting(10, WANG, days_ago=1), waiting(9, LI, days_ago=3)
    line = unhold(Line(RESERVED, (late, replace(early, state=ReservationStatus.HELD))))
    assert [r.id for r in line.queue] == [9, 10]


# Members flagged 60+ first, where the category's policy says so.

SENIOR = frozenset({MemberFlag.SENIOR})
SENIORS_FIRST = DEFAULT_POLICY.with_rules(
    {Category.POWER_TOOLS: CategoryRule(timedelta(days=3), senior_first=True)}, {}
)


def _line_of_four() -> Line:
    """张 (3 days ago), 王大爷 60+ (2), 李 (1), and another 60+ member (today)."""
    return Line(
        item(),
        (
            waiting(9, ZHANG, days_ago=3),
            replace(waiting(10, WANG, days_ago=2), flags=SENIOR),
            waiting(11, LI, days_ago=1),
            replace(waiting(12, LI, days_ago=0), member_id=5, flags=SENIOR),
        ),
    )


def test_with_seniors_first_the_earliest_senior_gets_the_hold() -> None:
    line = hold_next(_line_of_four(), now=NOW, policy=SENIORS_FIRST)
    assert line.changes[0] == HoldPlaced(10, NOW + timedelta(hours=24))
    notice = line.changes[2]
    assert isinstance(notice, NoticeQueued) and notice.member_id == WANG.id


def test_seniors_first_keeps_first_come_within_each_group() -> None:
    waiters = _line_of_four().waiting
    assert [r.id for r in in_turn(waiters, senior_first=True)] == [10, 12, 9, 11]
    assert [r.id for r in in_turn(waiters, senior_first=False)] == [9, 10, 11, 12]


def test_without_the_policy_seniors_wait_their_turn() -> None:
    line = hold_next(_line_of_four(), now=NOW, policy=DEFAULT_POLICY)
    assert line.changes[0] == HoldPlaced(9, NOW + timedelta(hours=24))
    ladder = replace(_line_of_four(), item=item(category=Category.LADDERS))
    assert hold_next(ladder, now=NOW, policy=SENIORS_FIRST).changes[0] == HoldPlaced(
        9, NOW + timedelta(hours=4)
    )


def test_an_expired_hold_passes_to_the_next_senior_first() -> None:
    queue = (
        held(8, ZHANG, hours_left=-1, days_ago=4),
        waiting(9, LI, days_ago=3),
        replace(waiting(10, WANG, days_ago=1), flags=SENIOR),
    )
    line = release_if_expired(Line(RESERVED, queue), now=NOW, policy=SENIORS_FIRST)
    assert line.changes[:2] == (
        ReservationClosed(8, ReservationStatus.EXPIRED, NOW),
        HoldPlaced(10, NOW + timedelta(hours=24)),
    )
