"""Everything one rule step changes, as frozen records, and ``Effects``: the step's
decision (what the hut or staff are told) with its changes, in the order to apply them.

The effect writer (server/storage/effect_writer.py) is the only code that turns these
into rows. A loan opened in this step has no id yet: ``NEW_LOAN`` names it (a step opens
at most one loan); a loan opened earlier in the transaction has a negative ``LoanRef``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from server.domain.alarms import AlarmKind, AlarmSource
from server.domain.ledger_state import (
    AnomalyKind,
    DoorKey,
    DoorState,
    EnrolmentStatus,
    LoanRef,
    NotificationKind,
    ReservationStatus,
)
from server.domain.lending import Action, Decision, Feedback, Refusal
from server.domain.model import CardStatus, ItemCondition, ItemStatus, MemberStatus, RatingSource
from server.domain.remote_commands import CommandStatus


@dataclass(frozen=True, slots=True)
class NewLoan:
    """The loan this step opens (a step opens at most one)."""


NEW_LOAN: Final = NewLoan()


@dataclass(frozen=True, slots=True)
class ItemChanged:
    """Only the fields given change (None: as it was)."""

    item_id: int
    status: ItemStatus | None = None
    condition: ItemCondition | None = None
    hut_id: str | None = None


@dataclass(frozen=True, slots=True)
class ItemStatusSet:
    """Staff set the item's status by hand, with their reason: a line of its history (the
    status itself changes with the step's ItemChanged)."""

    item_id: int
    from_status: ItemStatus
    to_status: ItemStatus
    reason: str
    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class LoanOpened:
    item_id: int
    member_id: int
    hut_id: str
    borrowed_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class LoanClosed:
    """Brought back (to ``hut_id``)."""

    loan: LoanRef
    at: datetime
    hut_id: str
    condition: ItemCondition | None = None


@dataclass(frozen=True, slots=True)
class LoanRenewed:
    loan: LoanRef
    due_at: datetime
    renewals: int


@dataclass(frozen=True, slots=True)
class LoanLost:
    loan: LoanRef
    at: datetime


@dataclass(frozen=True, slots=True)
class LoanConditionSet:
    loan: LoanRef
    condition: ItemCondition


@dataclass(frozen=True, slots=True)
class LoanRated:
    """The borrower's rating of a returned loan (it replaces one given before)."""

    loan: LoanRef
    item_id: int
    member_id: int
    hut_id: str  # where it was returned
    score: int  # 1..5
    comment: str
    source: RatingSource
    at: datetime


@dataclass(frozen=True, slots=True)
class HoldPlaced:
    reservation_id: int
    hold_until: datetime


@dataclass(frozen=True, slots=True)
class HoldWithdrawn:
    """Back to waiting, at the head of the line (the item cannot go out after all)."""

    reservation_id: int


@dataclass(frozen=True, slots=True)
class ReservationClosed:
    reservation_id: int
    state: ReservationStatus  # fulfilled, expired or cancelled
    at: datetime


@dataclass(frozen=True, slots=True)
class ReservationAdded:
    item_id: int
    member_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class NoticeQueued:
    """A notification request for the reminders side to send."""

    kind: NotificationKind
    member_id: int
    item_id: int
    hut_id: str
    reservation_id: int | None
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class NoticesWithdrawn:
    """The reservation's notices not sent yet are dropped."""

    reservation_id: int


@dataclass(frozen=True, slots=True)
class DoorOpened:
    door: DoorState


@dataclass(frozen=True, slots=True)
class DoorChanged:
    """The door session as it stands after the step (every field is written)."""

    door: DoorState


@dataclass(frozen=True, slots=True)
class StocktakeOpened:
    door: DoorKey
    member_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StocktakeLineChange:
    tag: str
    item_id: int | None
    result: str
    count: int


@dataclass(frozen=True, slots=True)
class StocktakeClosed:
    door: DoorKey
    at: datetime
    lines: tuple[StocktakeLineChange, ...]


@dataclass(frozen=True, slots=True)
class AnomalyRaised:
    hut_id: str
    kind: AnomalyKind
    at: datetime
    detail: str
    item_id: int | None = None
    member_id: int | None = None
    door: DoorKey | None = None


@dataclass(frozen=True, slots=True)
class AlarmRaised:
    """The condition ``kind`` started at the hut at ``at`` (its own time: an alarm replayed
    after an outage keeps it). One incident per hut and kind while unresolved: storage
    opens it, or marks the open one active again. ``notify``: staff hear of a new incident
    on the staff channel. ``heard_at``: when the server learnt of it (the row's change)."""

    hut_id: str
    kind: AlarmKind
    source: AlarmSource
    at: datetime
    heard_at: datetime
    detail: str = ""
    event_id: str | None = None
    notify: bool = False


@dataclass(frozen=True, slots=True)
class AlarmCleared:
    """The condition ended by itself at ``at``: the open incident stays for staff to
    resolve, no longer active."""

    hut_id: str
    kind: AlarmKind
    at: datetime
    heard_at: datetime


@dataclass(frozen=True, slots=True)
class ScanRecorded:
    """The scan's row in its door session."""

    door: DoorKey
    seq: int
    at: datetime
    text: str
    tag: str | None
    action: Action
    reason: Refusal | None = None
    loan: LoanRef | NewLoan | None = None


@dataclass(frozen=True, slots=True)
class EnrolmentRead:
    hut_id: str
    card_uid: str
    event_id: str
    at: datetime
    member_id: int | None


@dataclass(frozen=True, slots=True)
class EnrolmentClosed:
    """A waiting enrolment request answered by a tap: ``state`` bound (``new_card``: the
    card was given to the member in this step, and the audit names ``requested_by`` for
    it) or refused (the card is another member's)."""

    request_id: int
    state: EnrolmentStatus
    at: datetime
    card_uid: str
    member_id: int
    hut_id: str
    requested_by: str
    new_card: bool = False


@dataclass(frozen=True, slots=True)
class CommandAnswered:
    """The gateway reported what it did with a command of the command log."""

    command_id: str
    outcome: CommandStatus
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SignInCodeIssued:
    """A one-time sign-in code shown to the member on the hut's display (only its hash is
    stored), valid until ``expires_at``."""

    member_id: int
    code: str
    hut_id: str
    at: datetime
    expires_at: datetime

    def __repr__(self) -> str:  # the code is a credential: never in a log line
        return f"SignInCodeIssued(member_id={self.member_id}, hut_id={self.hut_id!r})"


@dataclass(frozen=True, slots=True)
class ConsumableTaken:
    batch_id: int


@dataclass(frozen=True, slots=True)
class MemberStatusChanged:
    """The member's status, with staff's reason (None: none, or cleared); ``at``: when a
    member left (LEFT only)."""

    member_id: int
    status: MemberStatus
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MemberHutsChanged:
    """The huts the member may open from now on (empty: every hut)."""

    member_id: int
    huts: frozenset[str]


@dataclass(frozen=True, slots=True)
class CardAdded:
    member_id: int
    uid: str
    bound_at: datetime | None = None  # None: the rule knows no time (a staff action)


@dataclass(frozen=True, slots=True)
class CardRemoved:
    uid: str


@dataclass(frozen=True, slots=True)
class CardStateChanged:
    uid: str
    state: CardStatus


Change = (
    ItemChanged
    | ItemStatusSet
    | LoanOpened
    | LoanClosed
    | LoanRenewed
    | LoanLost
    | LoanConditionSet
    | LoanRated
    | HoldPlaced
    | HoldWithdrawn
    | ReservationClosed
    | ReservationAdded
    | NoticeQueued
    | NoticesWithdrawn
    | DoorOpened
    | DoorChanged
    | StocktakeOpened
    | StocktakeClosed
    | AnomalyRaised
    | ScanRecorded
    | EnrolmentRead
    | EnrolmentClosed
    | CommandAnswered
    | ConsumableTaken
    | SignInCodeIssued
    | MemberStatusChanged
    | MemberHutsChanged
    | CardAdded
    | CardRemoved
    | CardStateChanged
    | AlarmRaised
    | AlarmCleared
)


@dataclass(frozen=True, slots=True)
class Effects:
    """One step's outcome: the decision (None for events that decide nothing, such as a
    door change), a refusal without a decision (an unknown card), and the changes."""

    changes: tuple[Change, ...] = ()
    decision: Decision | None = None
    refusal: Refusal | None = None

    @property
    def reason(self) -> Refusal | None:
        return self.decision.reason if self.decision is not None else self.refusal

    @property
    def feedback(self) -> Feedback | None:
        return None if self.decision is None else self.decision.feedback

    @property
    def due_at(self) -> datetime | None:
        return None if self.decision is None else self.decision.due_at


__all__ = [
    "NEW_LOAN",
    "AlarmCleared",
    "AlarmRaised",
    "AnomalyRaised",
    "CardAdded",
    "CardRemoved",
    "CardStateChanged",
    "Change",
    "CommandAnswered",
    "ConsumableTaken",
    "DoorChanged",
    "DoorOpened",
    "Effects",
    "EnrolmentClosed",
    "EnrolmentRead",
    "HoldPlaced",
    "HoldWithdrawn",
    "ItemChanged",
    "ItemStatusSet",
    "LoanClosed",
    "LoanConditionSet",
    "LoanLost",
    "LoanOpened",
    "LoanRated",
    "LoanRenewed",
    "MemberHutsChanged",
    "MemberStatusChanged",
    "NewLoan",
    "NoticeQueued",
    "NoticesWithdrawn",
    "ReservationAdded",
    "ReservationClosed",
    "ScanRecorded",
    "SignInCodeIssued",
    "StocktakeClosed",
    "StocktakeLineChange",
    "StocktakeOpened",
]
