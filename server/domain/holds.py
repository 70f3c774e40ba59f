"""Waiting lists and holds as pure rules: a returned item goes to the first in line, held
(status reserved) until ``hold_until``, with a "ready" notice for the reminders side.

Each rule takes a ``Line`` (the item, its waiting list, the changes so far) and returns the
Line after it, so rules chain within one step and the next rule sees what the last did.
Hut events (returns, condition cards, found items) and staff actions (clear after
repair, write off as lost, expire holds) use the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from server.domain.changes import (
    Change,
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationClosed,
)
from server.domain.ledger_state import (
    ItemState,
    NotificationKind,
    ReservationState,
    ReservationStatus,
)
from server.domain.lending import display, hold_until
from server.domain.model import ItemCondition, ItemStatus, MemberFlag
from server.domain.policy import LoanPolicy
from toolhut.i18n import N_, gettext

READY_TEXT = N_("Your reserved {name} is ready to collect")  # the hut's display: gettext


@dataclass(frozen=True, slots=True)
class Line:
    """An item with its waiting list (waiting and held, first in line first)."""

    item: ItemState
    queue: tuple[ReservationState, ...] = ()
    changes: tuple[Change, ...] = ()

    @property
    def hold(self) -> ReservationState | None:
        return next((r for r in self.queue if r.state is ReservationStatus.HELD), None)

    @property
    def waiting(self) -> tuple[ReservationState, ...]:
        return tuple(r for r in self.queue if r.state is ReservationStatus.WAITING)

    def set_item(
        self,
        *,
        status: ItemStatus | None = None,
        condition: ItemCondition | None = None,
        hut_id: str | None = None,
    ) -> Line:
        """The item with the fields given changed (None: as it is), and the change."""
        item = self.item.changed(status=status, condition=condition, hut_id=hut_id)
        change = ItemChanged(self.item.id, status=status, condition=condition, hut_id=hut_id)
        # Built directly, not by replace(): rules call these a few times per scan.
        return Line(item, self.queue, (*self.changes, change))

    def with_changes(self, *changes: Change) -> Line:
        return Line(self.item, self.queue, (*self.changes, *changes))

    def _reservation(self, reservation: ReservationState) -> Line:
        """The line with ``reservation`` replaced (or dropped, once it is closed)."""
        rest = [r for r in self.queue if r.id != reservation.id]
        if reservation.state in (ReservationStatus.WAITING, ReservationStatus.HELD):
            rest.append(reservation)
        rest.sort(key=lambda r: (r.created_at, r.id))
        return replace(self, queue=tuple(rest))


def in_turn(
    waiting: tuple[ReservationState, ...], *, senior_first: bool
) -> tuple[ReservationState, ...]:
    """The waiters in the order they get the item: first come, first served; where the
    category's policy puts seniors (60+) first, they go ahead of the others, each group
    in the order it came."""
    if not senior_first:
        return waiting
    return tuple(sorted(waiting, key=lambda r: MemberFlag.SENIOR not in r.flags))


def hold_next(line: Line, *, now: datetime, policy: LoanPolicy) -> Line:
    """Hold the item (on the shelf now) for the next in turn, or free it if nobody
    waits; sets the item's status either way."""
    waiting = line.waiting
    if not waiting:
        return line.set_item(status=ItemStatus.AVAILABLE)
    first = in_turn(waiting, senior_first=policy.rule(line.item.category).senior_first)[0]
    until = hold_until(category=line.item.category, now=now, policy=policy)
    held = replace(first, state=ReservationStatus.HELD, hold_until=until)
    item = line.item
    notice = NoticeQueued(
        kind=NotificationKind.RESERVATION_READY,
        member_id=first.member_id,
        item_id=item.id,
        hut_id=item.hut_id,
        reservation_id=first.id,
        text=display(gettext(READY_TEXT), name=item.name_zh),
        at=now,
    )
    line = line._reservation(held).with_changes(HoldPlaced(first.id, until))
    return line.set_item(status=ItemStatus.RESERVED).with_changes(notice)


def unhold(line: Line) -> Line:
    """The held item cannot go out after all (it needs repair): its holder goes back to
    the head of the line, and the unsent "ready" notice is withdrawn."""
    hold = line.hold
    if hold is None:
        return line
    waiting = replace(hold, state=ReservationStatus.WAITING, hold_until=None)
    return line._reservation(waiting).with_changes(
        HoldWithdrawn(hold.id), NoticesWithdrawn(hold.id)
    )


def close(
    line: Line, reservation: ReservationState, state: ReservationStatus, *, at: datetime
) -> Line:
    closed = replace(reservation, state=state)
    return line._reservation(closed).with_changes(ReservationClosed(reservation.id, state, at))


def fulfil(line: Line, hold: ReservationState, *, now: datetime) -> Line:
    return close(line, hold, ReservationStatus.FULFILLED, at=now)


def release_if_expired(line: Line, *, now: datetime, policy: LoanPolicy) -> Line:
    """Pass an expired hold on to the next in line (or free the item)."""
    hold = line.hold
    if hold is None or hold.hold_until is None or hold.hold_until > now:
        return line
    line = close(line, hold, ReservationStatus.EXPIRED, at=now)
    if line.item.status is ItemStatus.RESERVED:
        line = hold_next(line, now=now, policy=policy)
    return line


def cancel_all(line: Line, *, now: datetime) -> Line:
    for reservation in line.queue:
        line = close(line, reservation, ReservationStatus.CANCELLED, at=now)
    return line


__all__ = [
    "READY_TEXT",
    "Line",
    "cancel_all",
    "fulfil",
    "hold_next",
    "in_turn",
    "release_if_expired",
    "unhold",
]
