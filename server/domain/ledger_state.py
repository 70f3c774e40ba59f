"""What the ledger's rules read: frozen records of huts, members, cards, items, loans,
reservations, door sessions and consumables, and the ``Snapshot`` of one command.

Storage builds these (server/storage/snapshots.py) from its rows; the rules
(server/domain/rule_book.py) read them and return changes (server/domain/changes.py).
Nothing here knows about SQL, so a rule is tested by building a Snapshot by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from server.domain.model import (
    CardStatus,
    ItemCondition,
    ItemStatus,
    ItemView,
    LoanView,
    MemberStatus,
    MemberView,
)
from server.domain.policy import DEFAULT_POLICY, LoanPolicy
from server.domain.remote_commands import RemoteCommandState
from server.domain.sessions import SessionMode


class ReservationStatus(StrEnum):
    """Where a place on a waiting list stands (stored as text in ``reservations.state``)."""

    WAITING = "waiting"
    HELD = "held"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# The states of a reservation still in the line (the rest are closed).
ACTIVE_RESERVATION = (ReservationStatus.WAITING, ReservationStatus.HELD)


class EnrolmentStatus(StrEnum):
    """Where staff's request to enrol the next card tapped at a hut stands (stored as text
    in ``enrolment_requests.state``; a waiting request past its time reads EXPIRED)."""

    WAITING = "waiting"
    BOUND = "bound"
    EXPIRED = "expired"
    REFUSED = "refused"  # the card tapped is another member's
    CANCELLED = "cancelled"


class NotificationKind(StrEnum):
    RESERVATION_READY = "reservation_ready"


class AnomalyKind(StrEnum):
    RETURN_NOT_ON_LOAN = "return_not_on_loan"
    UNSCANNED_REMOVAL = "possible_unscanned_removal"
    MISSING_PART = "missing_part"
    NEEDS_REPAIR = "needs_repair"
    SCAN_BY_NOBODY = "scan_by_nobody"  # a scan with no card and no open door session
    LOW_RATING = "low_rating"  # a return rated 2 or less, with a comment to read


@dataclass(frozen=True, slots=True)
class HutState:
    id: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class MemberState:
    id: int
    name: str
    status: MemberStatus
    flags: frozenset[str] = frozenset()

    def view(self) -> MemberView:
        return MemberView(self.name, self.status, flags=self.flags)


@dataclass(frozen=True, slots=True)
class CardState:
    uid: str  # upper case
    state: CardStatus
    member: MemberState


@dataclass(frozen=True, slots=True)
class ItemState:
    id: int
    tag: str
    name_zh: str
    category: str
    status: ItemStatus
    condition: ItemCondition
    hut_id: str
    loan_days: int | None = None
    max_renewals: int | None = None

    def changed(
        self,
        *,
        status: ItemStatus | None = None,
        condition: ItemCondition | None = None,
        hut_id: str | None = None,
    ) -> ItemState:
        """This item with the fields given changed (None: as it is); what rules change of
        an item (built directly: dataclasses.replace costs three times as much)."""
        return ItemState(
            self.id,
            self.tag,
            self.name_zh,
            self.category,
            self.status if status is None else status,
            self.condition if condition is None else condition,
            self.hut_id if hut_id is None else hut_id,
            loan_days=self.loan_days,
            max_renewals=self.max_renewals,
        )

    def view(self) -> ItemView:
        return ItemView(
            self.tag,
            self.name_zh,
            self.category,
            self.status,
            condition=self.condition,
            loan_days=self.loan_days,
            max_renewals=self.max_renewals,
        )


# A loan is named by its row id, or (opened earlier in the same transaction and not yet
# written) by a negative number the loader gives it; see storage/working_set.py.
LoanRef = int


@dataclass(frozen=True, slots=True)
class LoanState:
    ref: LoanRef
    item_id: int
    member_id: int
    borrowed_at: datetime
    due_at: datetime
    renewals: int = 0

    def view(self) -> LoanView:
        return LoanView(self.borrowed_at, self.due_at, renewals=self.renewals)


@dataclass(frozen=True, slots=True)
class ReservationState:
    id: int
    item_id: int
    member_id: int
    state: ReservationStatus
    created_at: datetime
    hold_until: datetime | None = None
    flags: frozenset[str] = frozenset()  # the member's (senior first, where the policy says)


@dataclass(frozen=True, slots=True)
class DoorKey:
    """A door session by the gateway's id for it, unique per hut."""

    hut_id: str
    key: str


@dataclass(frozen=True, slots=True)
class DoorState:
    """The door session (card tap -> door open -> scans -> door closed) as the rules see it."""

    hut_id: str
    key: str
    mode: SessionMode
    started_at: datetime
    member_id: int | None = None
    card_uid: str | None = None
    door_opened_at: datetime | None = None
    closed_at: datetime | None = None
    scans: int = 0
    flag: str | None = None
    pending_condition: ItemCondition | None = None  # a condition card before its item
    has_stocktake: bool = False
    stocktake_closed: bool = False

    @property
    def ref(self) -> DoorKey:
        return DoorKey(self.hut_id, self.key)


@dataclass(frozen=True, slots=True)
class EnrolmentState:
    """A hut's waiting enrolment request: the next card tapped there in enrol mode between
    ``created_at`` and ``expires_at`` is bound to ``member_id``."""

    id: int
    member_id: int
    created_at: datetime
    expires_at: datetime
    requested_by: str  # the staff username: the audit names them for the bind


@dataclass(frozen=True, slots=True)
class BatchState:
    id: int
    quantity: int
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class ConsumableState:
    id: int
    tag: str
    name_zh: str
    batches: tuple[BatchState, ...] = ()

    @property
    def quantity(self) -> int:
        return sum(batch.quantity for batch in self.batches)


@dataclass(frozen=True, slots=True)
class ReturnedLoan:
    """The loan of a door session's last return (what a condition card is about), with its
    item as it stands now and the item's waiting list."""

    loan: LoanState
    item: ItemState
    queue: tuple[ReservationState, ...] = ()


@dataclass(frozen=True, slots=True)
class Shelf:
    """What a stocktake compares with: the items the ledger puts on the hut's shelf, the
    ids of other items by tag, and the tags counted (tag -> times)."""

    expected: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    others: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class SignInOffer:
    """A fresh sign-in code the loader drew for a scan of the phone sign-in card (the
    rules stay pure: they draw nothing), valid ``minutes`` from when the display shows it:
    ``shown_from``, when the server heard of the scan (a gateway's clock running behind
    must not shorten it)."""

    code: str
    minutes: int
    shown_from: datetime | None = None  # None: the scan's time


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one command's rules need to know, as it stands before the command.

    ``door``: the command's door session (None: none named, or not opened yet).
    ``item``/``loan``/``queue``: the item a scan names, its open loan and its waiting
    list (waiting and held, first in line first). ``in_category``: the card holder's open
    loans in the item's category (the loader counts them only when the scan may be a
    borrow: no open loan). ``returned``: a condition card's loan. ``counted``: the tags a
    stocktake door session has counted so far. ``shelf``: for closing a stocktake.
    ``enrolment``: an enrol read's hut's waiting request (None: none, or not an enrol read).
    ``remote_command``: a command report's command (None: not in the command log).
    ``opened_for``: the member a door session staff unlocked remotely is for (their card
    does not work): set for a scan in such a session without a card, and for the report of
    an unlock for a member. ``member``: whom a resident's own command (on their phone) is
    for; ``places``: for a reservation, how many waiting lists its member is in already.
    ``sign_in``: a scan of the phone sign-in card's fresh code.
    """

    hut: HutState
    now: datetime
    policy: LoanPolicy = DEFAULT_POLICY
    card: CardState | None = None
    door: DoorState | None = None
    item: ItemState | None = None
    loan: LoanState | None = None
    queue: tuple[ReservationState, ...] = ()
    in_category: int = 0
    consumable: ConsumableState | None = None
    returned: ReturnedLoan | None = None
    counted: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    shelf: Shelf | None = None
    borrower: MemberState | None = None  # a staff command on a loan: the loan's member
    enrolment: EnrolmentState | None = None
    remote_command: RemoteCommandState | None = None
    opened_for: MemberState | None = None
    member: MemberState | None = None
    places: int = 0
    sign_in: SignInOffer | None = None

    @property
    def card_member(self) -> MemberState | None:
        return None if self.card is None else self.card.member

    @property
    def holder(self) -> MemberState | None:
        """Whom a scan is for: the card's member, else the member staff unlocked for."""
        return self.opened_for if self.card is None else self.card.member


@dataclass(frozen=True, slots=True)
class QueuedItem:
    """An item whose waiting list a member is in, with the whole list (first in line first)."""

    item: ItemState
    queue: tuple[ReservationState, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessSnapshot:
    """What a command about who may open the huts stands on: the member concerned and the
    card named (either may be None: not named, or not found). Access is every hut's
    business and needs no clock, so there is no hut and no time here (a command that
    closes something says when itself).

    ``member_huts``: the huts the member may open (empty: every hut). For a member leaving,
    ``cards`` are all the member's cards, ``places`` the waiting lists they are in and
    ``open_loans`` how many items they still have on loan (neither returned nor lost);
    ``policy`` says how long a hold passed on to the next in line lasts."""

    member: MemberState | None = None
    card: CardState | None = None
    member_huts: frozenset[str] = frozenset()
    cards: tuple[CardState, ...] = ()
    places: tuple[QueuedItem, ...] = ()
    open_loans: int = 0
    policy: LoanPolicy = DEFAULT_POLICY


__all__ = [
    "ACTIVE_RESERVATION",
    "AccessSnapshot",
    "AnomalyKind",
    "BatchState",
    "CardState",
    "ConsumableState",
    "DoorKey",
    "DoorState",
    "EnrolmentState",
    "EnrolmentStatus",
    "HutState",
    "ItemState",
    "LoanRef",
    "LoanState",
    "MemberState",
    "NotificationKind",
    "QueuedItem",
    "ReservationState",
    "ReservationStatus",
    "ReturnedLoan",
    "Shelf",
    "SignInOffer",
    "Snapshot",
]
