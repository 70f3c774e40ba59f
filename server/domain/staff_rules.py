"""What staff actions do to the ledger, as pure rules: a Snapshot and a staff command in,
Effects out (registered in rule_book.decide beside the hut commands).

Loans (renew, write off as lost), waiting lists (reserve, release expired holds), items
(clear after repair; set a status by hand: maintenance, retired, lost, found) and who
may open the huts (suspend or reactivate a member, set the huts a member may open, a
member leaving, give a card, take it away, record it lost). A refusal is the Effects'
decision, with the same reasons and texts the hut shows; what a command names and storage
cannot find (no such loan, item, card or member) never reaches a rule: the staff action
says so first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from server.domain.changes import (
    CardAdded,
    CardRemoved,
    CardStateChanged,
    Effects,
    ItemStatusSet,
    LoanClosed,
    LoanLost,
    LoanRenewed,
    MemberHutsChanged,
    MemberStatusChanged,
    NoticesWithdrawn,
    ReservationAdded,
)
from server.domain.holds import Line, cancel_all, close, hold_next, release_if_expired, unhold
from server.domain.ledger_state import (
    AccessSnapshot,
    LoanRef,
    MemberState,
    QueuedItem,
    ReservationStatus,
    Snapshot,
)
from server.domain.lending import (
    Action,
    Refusal,
    check_reservation,
    decide_renewal,
    refuse,
    status_after_return,
)
from server.domain.model import CardStatus, ItemCondition, ItemStatus, MemberStatus
from server.domain.policy import LoanPolicy


@dataclass(frozen=True, slots=True)
class Renew:
    """One more loan period for an open loan."""

    loan: LoanRef


@dataclass(frozen=True, slots=True)
class MarkLost:
    """Close the loan without a return: the item is lost, its waiting list cancelled."""

    loan: LoanRef


@dataclass(frozen=True, slots=True)
class MarkReturned:
    """Staff took the item back by hand (handed in at the desk, or the hut's scanner
    missed it): the loan closes at the item's hut, the item goes back on the shelf or is
    held for the next in line. Its condition stays as it is."""

    loan: LoanRef


@dataclass(frozen=True, slots=True)
class Reserve:
    """Queue the card's holder for the item (snapshot: the item and the card)."""

    tag: str
    card_uid: str


@dataclass(frozen=True, slots=True)
class JoinLine:
    """The member queues for the item themselves, on their phone (snapshot: the item and
    the member as ``member``): the same rule as staff's Reserve."""

    tag: str
    member_id: int


@dataclass(frozen=True, slots=True)
class LeaveLine:
    """The member gives up their place in the item's line (snapshot: the item and the
    member as ``member``); a hold of theirs passes to the next in line."""

    tag: str
    member_id: int


@dataclass(frozen=True, slots=True)
class ClearRepair:
    """Staff checked or repaired the item: back on the shelf, or held for the next in line."""

    tag: str


@dataclass(frozen=True, slots=True)
class SetItemStatus:
    """Staff set the item's status by hand, with a reason: to the workshop (maintenance),
    out of service (retired), missing (lost), or back on the shelf (available: found, back
    in service, repaired). ``by`` names who, for the item's history."""

    tag: str
    status: ItemStatus
    reason: str
    by: str


# What staff may set by hand; on loan and reserved follow from loans and waiting lists.
SETTABLE_STATUSES = frozenset(
    {ItemStatus.MAINTENANCE, ItemStatus.RETIRED, ItemStatus.LOST, ItemStatus.AVAILABLE}
)


@dataclass(frozen=True, slots=True)
class ExpireHold:
    """Pass the item's hold on if its time is up (snapshot: the held item and its line)."""

    reservation_id: int


@dataclass(frozen=True, slots=True)
class SuspendMember:
    """The member's cards open nothing, and the hut says the account is suspended; staff's
    ``reason`` is kept (a new reason for a suspended member replaces the old)."""

    member_id: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ReactivateMember:
    """Active again (the reason goes; a member who left is back)."""

    member_id: int


@dataclass(frozen=True, slots=True)
class SetMemberHuts:
    """The huts the member may open from now on (empty: every hut)."""

    member_id: int
    huts: frozenset[str]


@dataclass(frozen=True, slots=True)
class MemberLeaves:
    """The member moved away (snapshot: the member, all their cards, their waiting-list
    places, how many items they have on loan): every card removed, so they open nothing;
    every place cancelled, a hold passed to the next in line. Refused while they still
    have items on loan (without a card they could not open the hut to bring them back):
    those are returned or marked lost first."""

    member_id: int
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AddCard:
    """Give the member a card (snapshot: the member, and the card if the uid has one);
    ``at``: when, for the card's bound_at (None: unknown)."""

    member_id: int
    uid: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RemoveCard:
    uid: str


@dataclass(frozen=True, slots=True)
class ReportCardLost:
    """The card opens nothing from now on, and the hut says why."""

    uid: str


StaffCommand = (
    Renew
    | MarkLost
    | MarkReturned
    | Reserve
    | JoinLine
    | LeaveLine
    | ClearRepair
    | SetItemStatus
    | ExpireHold
    | SuspendMember
    | ReactivateMember
    | SetMemberHuts
    | MemberLeaves
    | AddCard
    | RemoveCard
    | ReportCardLost
)

_T = TypeVar("_T")


def _given(value: _T | None, what: str) -> _T:
    """What the command names; the staff action loaded it (or said it does not exist)."""
    if value is None:
        raise ValueError(f"the snapshot has no {what}")
    return value


def _refused(reason: Refusal, *, name: str = "") -> Effects:
    return Effects(decision=refuse(reason, name=name))


def _line(snapshot: Snapshot) -> Line:
    return Line(_given(snapshot.item, "item"), snapshot.queue)


# Loans.


def renew(snapshot: Snapshot, _command: Renew) -> Effects:
    """``loan``: the loan if still open (None: returned or lost); ``borrower``: its member."""
    item, loan = _given(snapshot.item, "item"), snapshot.loan
    if loan is None:
        return _refused(Refusal.NOT_ON_LOAN, name=item.name_zh)
    decision = decide_renewal(
        item=item.view(),
        loan=loan.view(),
        member=_given(snapshot.borrower, "borrower").view(),
        waiting=len(_line(snapshot).waiting),
        now=snapshot.now,
        tz=snapshot.hut.zone,
        policy=snapshot.policy,
    )
    if decision.action is not Action.RENEW or decision.due_at is None:
        return Effects(decision=decision)
    return Effects((LoanRenewed(loan.ref, decision.due_at, loan.renewals + 1),), decision=decision)


def mark_lost(snapshot: Snapshot, _command: MarkLost) -> Effects:
    line, loan = _line(snapshot), snapshot.loan
    if loan is None:
        return _refused(Refusal.NOT_ON_LOAN, name=line.item.name_zh)
    line = line.with_changes(LoanLost(loan.ref, snapshot.now)).set_item(status=ItemStatus.LOST)
    return Effects(cancel_all(line, now=snapshot.now).changes)


def mark_returned(snapshot: Snapshot, _command: MarkReturned) -> Effects:
    line, loan = _line(snapshot), snapshot.loan
    if loan is None:
        return _refused(Refusal.NOT_ON_LOAN, name=line.item.name_zh)
    closed = LoanClosed(loan.ref, snapshot.now, snapshot.hut.id)
    line = line.with_changes(closed)
    if status_after_return(condition=line.item.condition, waiting=False) is ItemStatus.MAINTENANCE:
        line = line.set_item(status=ItemStatus.MAINTENANCE)
    else:
        line = hold_next(line, now=snapshot.now, policy=snapshot.policy)
    return Effects(line.changes)


# Waiting lists and items.


def reserve(snapshot: Snapshot, _command: Reserve) -> Effects:
    """``card``: the card staff named (None: unknown); ``loan``: the item's open loan."""
    if snapshot.card is None:
        _given(snapshot.item, "item")
        return _refused(Refusal.UNKNOWN_CARD)
    return _queued(snapshot, snapshot.card.member)


def join_line(snapshot: Snapshot, _command: JoinLine) -> Effects:
    return _queued(snapshot, _given(snapshot.member, "member"))


def _queued(snapshot: Snapshot, member: MemberState) -> Effects:
    """``member`` at the end of the item's line, if the rules allow."""
    item = _given(snapshot.item, "item")
    refusal = check_reservation(
        item=item.view(),
        member=member.view(),
        borrower_is_member=snapshot.loan is not None and snapshot.loan.member_id == member.id,
        already_queued=any(r.member_id == member.id for r in snapshot.queue),
        places=snapshot.places,
        policy=snapshot.policy,
    )
    if refusal is not None:
        return _refused(refusal, name=item.name_zh)
    return Effects((ReservationAdded(item.id, member.id, snapshot.now),))


def leave_line(snapshot: Snapshot, _command: LeaveLine) -> Effects:
    item, member = _given(snapshot.item, "item"), _given(snapshot.member, "member")
    if not any(r.member_id == member.id for r in snapshot.queue):
        return _refused(Refusal.NOT_QUEUED, name=item.name_zh)
    place = QueuedItem(item, snapshot.queue)
    return Effects(
        _give_up_place(place, member.id, now=snapshot.now, policy=snapshot.policy).changes
    )


def _cleared(line: Line, snapshot: Snapshot) -> Line:
    """Checked or repaired: condition ok; out of the workshop, to the next in line or the
    shelf."""
    was = line.item.status
    line = line.set_item(condition=ItemCondition.OK)
    if was is ItemStatus.MAINTENANCE:
        line = hold_next(line, now=snapshot.now, policy=snapshot.policy)
    return line


def clear_repair(snapshot: Snapshot, _command: ClearRepair) -> Effects:
    return Effects(_cleared(_line(snapshot), snapshot).changes)


def set_item_status(snapshot: Snapshot, command: SetItemStatus) -> Effects:
    """An item a member has is refused (it comes back by a return, or is written off with
    its loan: mark lost); a held one cannot be made available by hand (the hold runs out
    or is collected). Back to available: from maintenance as after a repair, from lost
    (found) or retired to the next in line or the shelf. To maintenance: a hold goes back
    to waiting. Retired or lost: the waiting list is cancelled."""
    if command.status not in SETTABLE_STATUSES:
        raise ValueError(f"staff cannot set {command.status.value!r} by hand")
    line = _line(snapshot)
    item, now = line.item, snapshot.now
    if snapshot.loan is not None or item.status is ItemStatus.ON_LOAN:
        return _refused(Refusal.ITEM_ON_LOAN, name=item.name_zh)
    if item.status is command.status:
        return _refused(Refusal.STATUS_UNCHANGED, name=item.name_zh)
    if command.status is ItemStatus.AVAILABLE:
        if item.status is ItemStatus.RESERVED:
            return _refused(Refusal.RESERVED_FOR_OTHER, name=item.name_zh)
        if item.status is ItemStatus.MAINTENANCE:
            line = _cleared(line, snapshot)
        else:
            line = hold_next(line, now=now, policy=snapshot.policy)
    elif command.status is ItemStatus.MAINTENANCE:
        line = unhold(line).set_item(status=ItemStatus.MAINTENANCE)
    else:
        line = cancel_all(line, now=now).set_item(status=command.status)
    history = ItemStatusSet(item.id, item.status, line.item.status, command.reason, now, command.by)
    return Effects(line.with_changes(history).changes)


def expire_hold(snapshot: Snapshot, _command: ExpireHold) -> Effects:
    line = release_if_expired(_line(snapshot), now=snapshot.now, policy=snapshot.policy)
    return Effects(line.changes)


# Who may open the huts.


def _member_status(
    snapshot: AccessSnapshot, status: MemberStatus, *, reason: str | None = None
) -> Effects:
    member = _given(snapshot.member, "member")
    if member.status is status and reason is None:
        return Effects()
    return Effects((MemberStatusChanged(member.id, status, reason=reason),))


def suspend_member(snapshot: AccessSnapshot, command: SuspendMember) -> Effects:
    return _member_status(snapshot, MemberStatus.SUSPENDED, reason=command.reason)


def reactivate_member(snapshot: AccessSnapshot, _command: ReactivateMember) -> Effects:
    return _member_status(snapshot, MemberStatus.ACTIVE)


def set_member_huts(snapshot: AccessSnapshot, command: SetMemberHuts) -> Effects:
    member = _given(snapshot.member, "member")
    if snapshot.member_huts == command.huts:
        return Effects()
    return Effects((MemberHutsChanged(member.id, command.huts),))


def _give_up_place(place: QueuedItem, member_id: int, *, now: datetime, policy: LoanPolicy) -> Line:
    """The member's place in ``place``'s line cancelled; a hold of theirs goes to the next
    in line (or the item back on the shelf), its unsent "ready" notice withdrawn."""
    line = Line(place.item, place.queue)
    for reservation in place.queue:
        if reservation.member_id != member_id:
            continue
        line = close(line, reservation, ReservationStatus.CANCELLED, at=now)
        if reservation.state is ReservationStatus.HELD:
            line = line.with_changes(NoticesWithdrawn(reservation.id))
            if line.item.status is ItemStatus.RESERVED:
                line = hold_next(line, now=now, policy=policy)
    return line


def member_leaves(snapshot: AccessSnapshot, command: MemberLeaves) -> Effects:
    member = _given(snapshot.member, "member")
    if member.status is MemberStatus.LEFT:
        return Effects()
    if snapshot.open_loans > 0:
        return _refused(Refusal.OPEN_LOANS, name=str(snapshot.open_loans))
    changes: list[Any] = [CardRemoved(card.uid) for card in snapshot.cards]
    for place in snapshot.places:
        line = _give_up_place(place, member.id, now=command.at, policy=snapshot.policy)
        changes.extend(line.changes)
    status = MemberStatusChanged(member.id, MemberStatus.LEFT, reason=command.reason, at=command.at)
    return Effects((*changes, status))


def add_card(snapshot: AccessSnapshot, command: AddCard) -> Effects:
    """``card``: the card with this uid if there is one (the member's or another's)."""
    member = _given(snapshot.member, "member")
    if snapshot.card is not None:
        return _refused(Refusal.CARD_IN_USE)
    return Effects((CardAdded(member.id, command.uid, bound_at=command.at),))


def remove_card(snapshot: AccessSnapshot, _command: RemoveCard) -> Effects:
    return Effects((CardRemoved(_given(snapshot.card, "card").uid),))


def report_card_lost(snapshot: AccessSnapshot, _command: ReportCardLost) -> Effects:
    card = _given(snapshot.card, "card")
    if card.state is CardStatus.LOST:
        return Effects()
    return Effects((CardStateChanged(card.uid, CardStatus.LOST),))


RULES: dict[type, Callable[[Any, Any], Effects]] = {
    Renew: renew,
    MarkLost: mark_lost,
    MarkReturned: mark_returned,
    Reserve: reserve,
    JoinLine: join_line,
    LeaveLine: leave_line,
    ClearRepair: clear_repair,
    SetItemStatus: set_item_status,
    ExpireHold: expire_hold,
    SuspendMember: suspend_member,
    ReactivateMember: reactivate_member,
    SetMemberHuts: set_member_huts,
    MemberLeaves: member_leaves,
    AddCard: add_card,
    RemoveCard: remove_card,
    ReportCardLost: report_card_lost,
}

__all__ = [
    "RULES",
    "SETTABLE_STATUSES",
    "AddCard",
    "ClearRepair",
    "ExpireHold",
    "JoinLine",
    "LeaveLine",
    "MarkLost",
    "MarkReturned",
    "MemberLeaves",
    "ReactivateMember",
    "RemoveCard",
    "Renew",
    "ReportCardLost",
    "Reserve",
    "SetMemberHuts",
    "SetItemStatus",
    "StaffCommand",
    "SuspendMember",
]
