"""The borrow/return decision for one scan, and what the hut says back.

The same scan toggles: an item on loan comes back (whoever scans it, so a neighbour can
return it), an available item goes out to the card holder of the open session. An item
scanned with no loan open and no card (or one listed as lost) is taken in as *found*: it is
back on the shelf, and staff hear about it as an anomaly rather than the resident an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from server.domain.model import (
    ItemCondition,
    ItemStatus,
    ItemView,
    LoanView,
    MemberStatus,
    MemberView,
)
from server.domain.policy import DEFAULT_POLICY, LoanPolicy
from toolhut.i18n import N_, gettext

MAX_DISPLAY_BYTES = 64


class Action(StrEnum):
    BORROW = "borrow"
    RETURN = "return"
    FOUND = "found"  # back on the shelf without an open loan: an anomaly for staff
    RENEW = "renew"
    TAKE = "take"  # a consumable, not to come back
    COUNT = "count"  # a scan in a stocktake session
    CONDITION = "condition"  # a condition card, about the last return
    RATE = "rate"  # a rating card, about the last return
    SIGN_IN = "sign_in"  # the phone sign-in card: a code on the display
    REFUSE = "refuse"


class Refusal(StrEnum):
    NO_SESSION = "no_session"
    UNKNOWN_CARD = "unknown_card"
    MEMBER_SUSPENDED = "member_suspended"
    UNREADABLE_LABEL = "unreadable_label"
    UNKNOWN_ITEM = "unknown_item"
    ITEM_UNAVAILABLE = "item_unavailable"
    ITEM_IN_MAINTENANCE = "item_in_maintenance"
    RESERVED_FOR_OTHER = "reserved_for_other"
    OVER_LIMIT = "over_limit"
    MAX_RENEWALS = "max_renewals"
    RESERVATION_WAITING = "reservation_waiting"
    NOT_ON_LOAN = "not_on_loan"
    ITEM_AVAILABLE = "item_available"  # reserving what is on the shelf: just borrow it
    OWN_LOAN = "own_loan"
    ALREADY_QUEUED = "already_queued"
    OUT_OF_STOCK = "out_of_stock"
    CARD_IN_USE = "card_in_use"  # staff give a member a card that is someone's already
    ITEM_ON_LOAN = "item_on_loan"  # staff set the status of an item a member has
    STATUS_UNCHANGED = "status_unchanged"  # staff set the status the item has already
    OPEN_LOANS = "open_loans"  # a member leaving who still has items on loan
    NOTHING_RETURNED = "nothing_returned"  # a rating card before any return of the session
    NOT_THE_BORROWER = "not_the_borrower"  # a rating card by someone who returned another's
    TOO_MANY_PLACES = "too_many_places"  # in as many waiting lists as the policy allows
    NOT_QUEUED = "not_queued"  # leaving a waiting list one is not in
    NO_SIGN_IN_HERE = "no_sign_in_here"  # the sign-in card in a staff stocktake


# What the hut's display says (in the hut's language, Chinese: ``gettext``'s default),
# marked here and looked up where it is shown.
_REFUSAL_TEXT: dict[Refusal, str] = {
    Refusal.NO_SESSION: N_("Tap your card first"),
    Refusal.UNKNOWN_CARD: N_("Card unknown"),
    Refusal.MEMBER_SUSPENDED: N_("Account is suspended"),
    Refusal.UNREADABLE_LABEL: N_("Label not readable"),
    Refusal.UNKNOWN_ITEM: N_("Unknown item"),
    Refusal.ITEM_UNAVAILABLE: N_("{name} cannot be borrowed now"),
    Refusal.ITEM_IN_MAINTENANCE: N_("{name} is under repair, not for loan now"),
    Refusal.RESERVED_FOR_OTHER: N_("{name} is held for someone else"),
    Refusal.OVER_LIMIT: N_("Borrowing limit reached, please return something first"),
    Refusal.MAX_RENEWALS: N_("No more renewals"),
    Refusal.RESERVATION_WAITING: N_("Someone is waiting for it: no renewal"),
    Refusal.NOT_ON_LOAN: N_("{name} is not on loan"),
    Refusal.ITEM_AVAILABLE: N_("{name} is on the shelf: just borrow it"),
    Refusal.OWN_LOAN: N_("You have {name} already"),
    Refusal.ALREADY_QUEUED: N_("Already in the queue"),
    Refusal.OUT_OF_STOCK: N_("{name} is used up"),
    Refusal.CARD_IN_USE: N_("This card belongs to a member already"),
    Refusal.ITEM_ON_LOAN: N_("{name} is on loan"),
    Refusal.STATUS_UNCHANGED: N_("{name} has this status already"),
    Refusal.OPEN_LOANS: N_("{name} items are still on loan"),  # {name}: how many
    Refusal.NOTHING_RETURNED: N_("Return your item first, then scan the rating card"),
    Refusal.NOT_THE_BORROWER: N_("Only the borrower can rate this return"),
    Refusal.TOO_MANY_PLACES: N_("In too many waiting lists already"),
    Refusal.NOT_QUEUED: N_("Not in the queue for {name}"),
    Refusal.NO_SIGN_IN_HERE: N_("No phone sign-in during a stocktake"),
}

CONDITION_TEXT: dict[ItemCondition, str] = {
    ItemCondition.OK: N_("Noted: in good order"),
    ItemCondition.NEEDS_REPAIR: N_("Noted: needs repair. Thank you"),
    ItemCondition.MISSING_PART: N_("Noted: a part is missing. Thank you"),
}

# What the display says when a scan is taken ({due}: the due date, month-day).
RETURNED_TEXT = N_("Returned {name}")
FOUND_TEXT = N_("Received {name}")
BORROWED_TEXT = N_("Lent {name}, due {due}")
RENEWED_TEXT = N_("Renewed {name}, due {due}")
TAKEN_TEXT = N_("Took {name}, {left} left")
# The phone sign-in card's answer ({code}: as codes are shown, "4829 1735").
SIGN_IN_TEXT = N_("Phone sign-in code {code} ({minutes} min)")


@dataclass(frozen=True, slots=True)
class Feedback:
    """A beep (ok or error) and a display text of at most 64 UTF-8 bytes."""

    ok: bool
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    feedback: Feedback
    reason: Refusal | None = None
    due_at: datetime | None = None


def check_card(card: str | None, member: MemberView | None) -> Refusal | None:
    """Why the card holder may not borrow, or None if they may."""
    if card is None:
        return Refusal.NO_SESSION
    if member is None:
        return Refusal.UNKNOWN_CARD
    if member.status is not MemberStatus.ACTIVE:
        return Refusal.MEMBER_SUSPENDED
    return None


def decide_scan(
    *,
    tag: str | None,
    card: str | None,
    member: MemberView | None,
    item: ItemView | None,
    open_loan: LoanView | None,
    now: datetime,
    tz: tzinfo,
    policy: LoanPolicy = DEFAULT_POLICY,
    open_loans_in_category: int = 0,
    held_for_member: bool = False,
) -> Decision:
    """``tag`` comes from parse_scan_text (None: the label was unreadable); ``member``
    owns ``card``; ``open_loan`` is the item's loan not yet returned;
    ``open_loans_in_category`` counts the member's open loans of the item's category;
    ``held_for_member``: the item is reserved and the hold is this member's."""
    if tag is None:
        return refuse(Refusal.UNREADABLE_LABEL)
    if item is None:
        return refuse(Refusal.UNKNOWN_ITEM)
    name = item.name_zh
    if open_loan is not None:
        return Decision(Action.RETURN, Feedback(True, display(gettext(RETURNED_TEXT), name=name)))
    if item.status is ItemStatus.LOST or (card is None and item.status is ItemStatus.AVAILABLE):
        return Decision(Action.FOUND, Feedback(True, display(gettext(FOUND_TEXT), name=name)))
    if item.status is ItemStatus.MAINTENANCE or item.condition is ItemCondition.NEEDS_REPAIR:
        return refuse(Refusal.ITEM_IN_MAINTENANCE, name=name)
    if item.status not in (ItemStatus.AVAILABLE, ItemStatus.RESERVED):
        return refuse(Refusal.ITEM_UNAVAILABLE, name=name)
    refusal = check_card(card, member)
    if refusal is not None:
        return refuse(refusal)
    assert member is not None
    if item.status is ItemStatus.RESERVED and not held_for_member:
        return refuse(Refusal.RESERVED_FOR_OTHER, name=name)
    if open_loans_in_category >= policy.rule(item.category).max_per_member:
        return refuse(Refusal.OVER_LIMIT)
    due = policy.due_at(item.category, borrowed_at=now, item=item, flags=member.flags)
    when = due.astimezone(tz).strftime("%m-%d")
    text = display(gettext(BORROWED_TEXT), name=name, due=when)
    return Decision(Action.BORROW, Feedback(True, text), due_at=due)


def decide_renewal(
    *,
    item: ItemView,
    loan: LoanView | None,
    member: MemberView,
    waiting: int,
    now: datetime,
    tz: tzinfo,
    policy: LoanPolicy = DEFAULT_POLICY,
) -> Decision:
    """Extend an open loan by one more period, counted from the later of now and the due
    date (an overdue renewal does not start in the past). ``waiting``: members queued."""
    if loan is None:
        return refuse(Refusal.NOT_ON_LOAN, name=item.name_zh)
    if member.status is not MemberStatus.ACTIVE:
        return refuse(Refusal.MEMBER_SUSPENDED)
    if waiting > 0:
        return refuse(Refusal.RESERVATION_WAITING)
    if loan.renewals >= policy.max_renewals(item):
        return refuse(Refusal.MAX_RENEWALS)
    due = policy.due_at(
        item.category, borrowed_at=max(loan.due_at, now), item=item, flags=member.flags
    )
    when = due.astimezone(tz).strftime("%m-%d")
    text = display(gettext(RENEWED_TEXT), name=item.name_zh, due=when)
    return Decision(Action.RENEW, Feedback(True, text), due_at=due)


def check_reservation(
    *,
    item: ItemView,
    member: MemberView,
    borrower_is_member: bool,
    already_queued: bool,
    places: int = 0,
    policy: LoanPolicy = DEFAULT_POLICY,
) -> Refusal | None:
    """Why ``member`` may not join the waiting list for ``item``, or None if they may;
    ``places``: the waiting lists they are in now."""
    if member.status is not MemberStatus.ACTIVE:
        return Refusal.MEMBER_SUSPENDED
    if item.status is ItemStatus.AVAILABLE:
        return Refusal.ITEM_AVAILABLE
    if item.status not in (ItemStatus.ON_LOAN, ItemStatus.RESERVED, ItemStatus.MAINTENANCE):
        return Refusal.ITEM_UNAVAILABLE
    if borrower_is_member:
        return Refusal.OWN_LOAN
    if already_queued:
        return Refusal.ALREADY_QUEUED
    if places >= policy.max_places:
        return Refusal.TOO_MANY_PLACES
    return None


def status_after_return(*, condition: ItemCondition, waiting: bool) -> ItemStatus:
    """Where a returned (or found, or cleared) item stands: held for the next in line,
    in the workshop, or on the shelf."""
    if condition is ItemCondition.NEEDS_REPAIR:
        return ItemStatus.MAINTENANCE
    return ItemStatus.RESERVED if waiting else ItemStatus.AVAILABLE


def hold_until(*, category: str, now: datetime, policy: LoanPolicy = DEFAULT_POLICY) -> datetime:
    return now + policy.rule(category).hold_period


def decide_take(
    *, name: str, quantity: int, card: str | None, member: MemberView | None
) -> Decision:
    """A consumable (first-aid supplies) is taken, not lent: one per scan, by a member."""
    refusal = check_card(card, member)
    if refusal is not None:
        return refuse(refusal)
    if quantity <= 0:
        return refuse(Refusal.OUT_OF_STOCK, name=name)
    text = display(gettext(TAKEN_TEXT), name=name, left=quantity - 1)
    return Decision(Action.TAKE, Feedback(True, text))


def refuse(reason: Refusal, *, name: str = "") -> Decision:
    return Decision(
        Action.REFUSE, Feedback(False, display(gettext(_REFUSAL_TEXT[reason]), name=name)), reason
    )


def display(template: str, *, name: str, **fields: object) -> str:
    """Fill ``{name}`` (and ``fields``) into the template, shortening the name so the text
    fits the display."""
    text = template.format(name=name, **fields)
    while len(text.encode()) > MAX_DISPLAY_BYTES and name:
        name = name[:-1]
        text = template.format(name=name + "…", **fields)
    return text
