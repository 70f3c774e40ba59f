"""What card taps, door changes and scans do to the ledger, as pure rules: a Snapshot and
a hut command in, Effects out (see rule_book.decide).

A scan means, in this order: the phone sign-in card (a one-time code on the display for
the member whose card opened the door); a count, if the door session is a staff stocktake;
a condition card (``COND:REPAIR`` ...) or a rating card (``RATE:GOOD`` ...) about the
session's last return; an item label (borrow, return, found); a consumable's shelf label
(take one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from server.domain.changes import (
    NEW_LOAN,
    AnomalyRaised,
    CardAdded,
    Change,
    CommandAnswered,
    ConsumableTaken,
    DoorChanged,
    DoorOpened,
    Effects,
    EnrolmentClosed,
    EnrolmentRead,
    LoanClosed,
    LoanConditionSet,
    LoanOpened,
    NewLoan,
    ScanRecorded,
    SignInCodeIssued,
    StocktakeClosed,
    StocktakeLineChange,
    StocktakeOpened,
)
from server.domain.commands import CardTap, CommandReport, DoorChange, EnrolRead, Scan
from server.domain.holds import Line, fulfil, hold_next, release_if_expired, unhold
from server.domain.labels import (
    is_sign_in_card,
    parse_condition_text,
    parse_rating_text,
    parse_scan_text,
)
from server.domain.ledger_state import (
    AnomalyKind,
    DoorState,
    EnrolmentState,
    EnrolmentStatus,
    LoanRef,
    LoanState,
    MemberState,
    Snapshot,
)
from server.domain.lending import (
    CONDITION_TEXT,
    SIGN_IN_TEXT,
    Action,
    Decision,
    Feedback,
    Refusal,
    decide_scan,
    decide_take,
    display,
    refuse,
    status_after_return,
)
from server.domain.model import ItemCondition, ItemStatus, RatingSource
from server.domain.ratings import THANKS_TEXT, RatedLoan, rate
from server.domain.remote_commands import CommandStatus
from server.domain.sessions import (
    SessionFlag,
    SessionMode,
    flag_on_close,
    session_mode,
    stocktake_report,
)
from server.domain.sign_in import shown
from toolhut.i18n import N_, bilingual, gettext

ScanLoan = LoanRef | NewLoan | None


@dataclass(slots=True)
class _Step:
    """One command's work in progress: the door session as it stands, and the changes."""

    snapshot: Snapshot
    door: DoorState | None = None
    changes: list[Change] = field(default_factory=list)
    _written: DoorState | None = None  # the door as the changes so far leave it

    def __post_init__(self) -> None:
        self.door = self._written = self.snapshot.door

    def open_door(
        self, key: str, *, card_uid: str | None = None, member: MemberState | None = None
    ) -> DoorState:
        """The door session ``key``, opened by its first event whichever type arrives first
        (events of one session may come in any order across batches)."""
        now = self.snapshot.now
        mode = SessionMode.LENDING if member is None else session_mode(member.flags)
        door = self.door
        if door is None:
            member_id = None if member is None else member.id
            door = DoorState(
                self.snapshot.hut.id,
                key,
                mode=mode,
                started_at=now,
                member_id=member_id,
                card_uid=card_uid,
            )
        elif member is not None and door.member_id is None:
            door = replace(
                door,
                member_id=member.id,
                card_uid=card_uid,
                mode=mode,
                started_at=min(door.started_at, now),
            )
        opened_stocktake = door.mode is SessionMode.STOCKTAKE and not door.has_stocktake
        if opened_stocktake:
            door = replace(door, has_stocktake=True)
        if self._written is None:
            self.changes.append(DoorOpened(door))
            self._written = door
        self.door = door
        self._flush_door()
        if opened_stocktake:
            self.changes.append(StocktakeOpened(door.ref, door.member_id, now))
        return door

    def _flush_door(self) -> None:
        if self.door is not None and self.door != self._written:
            self.changes.append(DoorChanged(self.door))
            self._written = self.door

    def anomaly(self, kind: AnomalyKind, *, detail: str, item_id: int | None = None) -> Change:
        member = self.snapshot.holder
        return AnomalyRaised(
            self.snapshot.hut.id,
            kind,
            self.snapshot.now,
            detail,
            item_id=item_id,
            member_id=None if member is None else member.id,
            door=None if self.door is None else self.door.ref,
        )

    def take_pending_condition(self) -> ItemCondition | None:
        if self.door is None or self.door.pending_condition is None:
            return None
        pending = self.door.pending_condition
        self.door = replace(self.door, pending_condition=None)
        return pending

    def effects(self, decision: Decision | None = None) -> Effects:
        self._flush_door()
        return Effects(tuple(self.changes), decision)


def card_tap(snapshot: Snapshot, command: CardTap) -> Effects:
    card = snapshot.card
    if card is None:
        return Effects(refusal=Refusal.UNKNOWN_CARD)
    step = _Step(snapshot)
    if command.door_key is not None and command.unlocked:
        step.open_door(command.door_key, card_uid=card.uid, member=card.member)
    return step.effects()


# A tap stamped this much before the request still answers it: the gateway's clock may be
# a little behind the server's (it was in enrol mode, so the command had reached it).
ENROL_CLOCK_SKEW = timedelta(seconds=5)


def enrolment_status(
    stored: EnrolmentStatus, *, expires_at: datetime, now: datetime
) -> EnrolmentStatus:
    """A request's state at ``now``: a waiting one past its time has expired."""
    if stored is EnrolmentStatus.WAITING and now >= expires_at:
        return EnrolmentStatus.EXPIRED
    return stored


def _answers(request: EnrolmentState, now: datetime) -> bool:
    """A tap at ``now`` answers the request: made after it, before it expired."""
    waiting = enrolment_status(EnrolmentStatus.WAITING, expires_at=request.expires_at, now=now)
    return waiting is EnrolmentStatus.WAITING and now >= request.created_at - ENROL_CLOCK_SKEW


def enrol_read(snapshot: Snapshot, command: EnrolRead) -> Effects:
    """The card read is recorded for staff (as it stood: ``member_id`` is its member
    before this tap); with the hut's request waiting, it is bound to the request's member
    too, unless it is another member's (the request is refused, nothing bound)."""
    uid = command.card_uid.upper()
    member = snapshot.card_member
    read = EnrolmentRead(
        snapshot.hut.id,
        uid,
        command.event_id,
        snapshot.now,
        member_id=None if member is None else member.id,
    )
    request = snapshot.enrolment
    if request is None or not _answers(request, snapshot.now):
        return Effects((read,))
    if member is None:
        added = CardAdded(request.member_id, uid, bound_at=snapshot.now)
        bound = _closed(snapshot, request, uid, EnrolmentStatus.BOUND, new_card=True)
        return Effects((read, added, bound))
    if member.id == request.member_id:  # their own card already: nothing to bind
        return Effects((read, _closed(snapshot, request, uid, EnrolmentStatus.BOUND)))
    return Effects((read, _closed(snapshot, request, uid, EnrolmentStatus.REFUSED)))


def _closed(
    snapshot: Snapshot,
    request: EnrolmentState,
    uid: str,
    state: EnrolmentStatus,
    *,
    new_card: bool = False,
) -> EnrolmentClosed:
    return EnrolmentClosed(
        request.id,
        state,
        snapshot.now,
        uid,
        request.member_id,
        snapshot.hut.id,
        request.requested_by,
        new_card=new_card,
    )


def command_report(snapshot: Snapshot, command: CommandReport) -> Effects:
    """The gateway's report answers its command in the command log (the first report does:
    a later one, a replay's, changes nothing); one the log does not know (another server's,
    or a sync) changes nothing. A remote unlock for a member that was carried out opens its
    door session for that member, so the scans there are theirs."""
    remote = snapshot.remote_command
    if remote is None or not remote.awaits(hut_id=snapshot.hut.id, action=command.action):
        return Effects()
    step = _Step(snapshot)
    step.changes.append(
        CommandAnswered(remote.id, command.outcome, snapshot.now, detail=command.detail)
    )
    unlocked = command.outcome is CommandStatus.DONE and remote.action == "unlock"
    if unlocked and command.door_key is not None and snapshot.opened_for is not None:
        step.open_door(command.door_key, member=snapshot.opened_for)
    return step.effects()


def door_change(snapshot: Snapshot, command: DoorChange) -> Effects:
    if command.door_key is None:
        return Effects()
    step = _Step(snapshot)
    door = step.open_door(command.door_key)
    now = snapshot.now
    if command.opened:
        if door.door_opened_at is None or now < door.door_opened_at:
            step.door = replace(door, door_opened_at=now)
        return step.effects()
    if door.closed_at is not None:
        return step.effects()
    door = replace(door, closed_at=now)
    flag = flag_on_close(
        mode=door.mode, door_opened=door.door_opened_at is not None, scans=door.scans
    )
    if flag is not None:
        door = replace(door, flag=flag.value)
        step.door = door
        step.changes.append(
            AnomalyRaised(
                snapshot.hut.id,
                AnomalyKind.UNSCANNED_REMOVAL,
                now,
                "door opened, nothing scanned",
                member_id=door.member_id,
                door=door.ref,
            )
        )
    step.door = door
    if door.mode is SessionMode.STOCKTAKE and door.has_stocktake and not door.stocktake_closed:
        step.door = replace(door, stocktake_closed=True)
        step.changes.append(_close_stocktake(snapshot, door))
    return step.effects()


def _close_stocktake(snapshot: Snapshot, door: DoorState) -> StocktakeClosed:
    """The report: items expected on this hut's shelf and not seen, and the reverse."""
    expected = {} if snapshot.shelf is None else dict(snapshot.shelf.expected)
    others = {} if snapshot.shelf is None else dict(snapshot.shelf.others)
    lines = tuple(
        StocktakeLineChange(
            line.tag, expected.get(line.tag) or others.get(line.tag), line.result.value, line.count
        )
        for line in stocktake_report(expected=expected, seen=snapshot.counted)
    )
    return StocktakeClosed(door.ref, snapshot.now, lines)


def scan(snapshot: Snapshot, command: Scan) -> Effects:
    member = snapshot.holder
    step = _Step(snapshot)
    if command.door_key is not None:
        card_uid = None if member is None else command.card_uid
        step.open_door(command.door_key, card_uid=card_uid, member=member)
    decision, tag, loan = _scan_decision(step, command)
    sign_in = is_sign_in_card(command.text)
    if command.card_uid is None and decision.action is Action.REFUSE and not sign_in:
        _scan_by_nobody(step, command)
    if step.door is not None:
        if not sign_in:  # a sign-in is no scan of an item: "nothing scanned" still holds
            step.door = replace(step.door, scans=step.door.scans + 1)
        step._flush_door()
        step.changes.append(
            ScanRecorded(
                step.door.ref,
                command.seq,
                snapshot.now,
                command.text,
                tag,
                decision.action,
                decision.reason,
                loan,
            )
        )
    return step.effects(decision)


# How much of a scan by nobody's text the anomaly keeps (a stranger decides its length).
NOBODY_TEXT_KEPT = 64
NOBODY_DETAIL = bilingual("scanned with no card and no session: {text}")


def _scan_by_nobody(step: _Step, command: Scan) -> None:
    """A scan with no card that the rules refused (it needed one, or named nothing they
    know; a return or a found item with no card is a neighbour's help, not this): staff
    hear of it once per scan, or once per door session if it came in one (the session is
    flagged)."""
    door = step.door
    if door is not None:
        if door.flag == SessionFlag.NOBODY:
            return
        if door.flag is None:
            step.door = replace(door, flag=SessionFlag.NOBODY.value)
    text = command.text
    if len(text) > NOBODY_TEXT_KEPT:
        text = text[: NOBODY_TEXT_KEPT - 1] + "…"
    detail = NOBODY_DETAIL.format(text=text)
    item = step.snapshot.item
    item_id = None if item is None else item.id
    step.changes.append(step.anomaly(AnomalyKind.SCAN_BY_NOBODY, detail=detail, item_id=item_id))


def _scan_decision(step: _Step, command: Scan) -> tuple[Decision, str | None, ScanLoan]:
    snapshot = step.snapshot
    if is_sign_in_card(command.text):
        return _sign_in(step), None, None
    if step.door is not None and step.door.mode is SessionMode.STOCKTAKE:
        return _count(step, command)
    condition = parse_condition_text(command.text)
    if condition is not None:
        return _condition(step, condition), None, None
    score = parse_rating_text(command.text)
    if score is not None:
        return _rating(step, score), None, None
    tag = parse_scan_text(command.text)
    if tag is not None and snapshot.item is None and snapshot.consumable is not None:
        return _take(step, command), tag, None
    return _lend(step, command, tag)


def _sign_in(step: _Step) -> Decision:
    """The phone sign-in card: the code the loader drew, for the member whose card opened
    this door session (not staff's stocktake; not a session without a card: a remote
    unlock's member tapped nothing, so whoever stands there proved nothing)."""
    snapshot, door = step.snapshot, step.door
    member = snapshot.card_member
    offer = snapshot.sign_in
    if door is None or member is None or offer is None:
        return refuse(Refusal.NO_SESSION)
    if door.mode is SessionMode.STOCKTAKE:
        return refuse(Refusal.NO_SIGN_IN_HERE)
    issued_at = max(snapshot.now, offer.shown_from or snapshot.now)
    expires_at = issued_at + timedelta(minutes=offer.minutes)
    step.changes.append(
        SignInCodeIssued(member.id, offer.code, snapshot.hut.id, issued_at, expires_at)
    )
    text = gettext(SIGN_IN_TEXT).format(code=shown(offer.code), minutes=offer.minutes)
    return Decision(Action.SIGN_IN, Feedback(True, text))


def _count(step: _Step, command: Scan) -> tuple[Decision, str | None, ScanLoan]:
    tag = parse_scan_text(command.text)
    if tag is None:
        return refuse(Refusal.UNREADABLE_LABEL), None, None
    item = step.snapshot.item
    name = tag if item is None else item.name_zh
    seen = Counter(step.snapshot.counted)
    seen[tag] += 1
    text = display(gettext(N_("Stocktake: {name}, {count} counted")), name=name, count=len(seen))
    return Decision(Action.COUNT, Feedback(True, text)), tag, None


def _condition(step: _Step, condition: ItemCondition) -> Decision:
    if step.door is None:
        return refuse(Refusal.NO_SESSION)
    returned = step.snapshot.returned
    if returned is None:
        # Card before item: it applies to the next return of this door session.
        step.door = replace(step.door, pending_condition=condition)
        text = gettext(N_("Please scan the item you are returning"))
        return Decision(Action.CONDITION, Feedback(True, text))
    line = Line(returned.item, returned.queue)
    line = _set_condition(step, line, returned.loan.ref, condition)
    step.changes.extend(line.changes)
    return Decision(Action.CONDITION, Feedback(True, gettext(CONDITION_TEXT[condition])))


def _rating(step: _Step, score: int) -> Decision:
    """A rating card rates the door session's last return, for its borrower. Before any
    return it is refused (a resident sees at once to scan it after the item; a rating
    kept for a return that may never come would thank them for nothing)."""
    snapshot = step.snapshot
    holder = snapshot.holder
    if step.door is None or holder is None:
        return refuse(Refusal.NO_SESSION)
    returned = snapshot.returned
    if returned is None:
        return refuse(Refusal.NOTHING_RETURNED)
    loan = returned.loan
    if loan.member_id != holder.id:
        return refuse(Refusal.NOT_THE_BORROWER)
    hut_id = snapshot.hut.id
    rated = RatedLoan(loan.ref, loan.item_id, loan.member_id, snapshot.now, hut_id)
    step.changes.extend(
        rate(
            rated, hut_id=hut_id, score=score, comment="", source=RatingSource.HUT, now=snapshot.now
        )
    )
    text = display(gettext(THANKS_TEXT), name=returned.item.name_zh)
    return Decision(Action.RATE, Feedback(True, text))


def _set_condition(step: _Step, line: Line, loan: LoanRef, condition: ItemCondition) -> Line:
    snapshot = step.snapshot
    line = line.with_changes(LoanConditionSet(loan, condition)).set_item(condition=condition)
    item_id = line.item.id
    if condition is ItemCondition.MISSING_PART:
        detail = "returned with a part missing"
        line = line.with_changes(
            step.anomaly(AnomalyKind.MISSING_PART, detail=detail, item_id=item_id)
        )
    if condition is ItemCondition.NEEDS_REPAIR:
        detail = "returned needing repair"
        line = line.with_changes(
            step.anomaly(AnomalyKind.NEEDS_REPAIR, detail=detail, item_id=item_id)
        )
        if line.item.status is ItemStatus.RESERVED:
            line = unhold(line)
        if line.item.status in (ItemStatus.AVAILABLE, ItemStatus.RESERVED):
            line = line.set_item(status=ItemStatus.MAINTENANCE)
    elif line.item.status is ItemStatus.MAINTENANCE:
        # Corrected within the session (REPAIR scanned by mistake, then OK).
        line = hold_next(line, now=snapshot.now, policy=snapshot.policy)
    return line


def _credential(snapshot: Snapshot, command: Scan) -> str | None:
    """What stands for the card of a scan: the card of the session, or, in a door session
    staff unlocked remotely for a member, the session's key (that member tapped no card;
    the lending rules ask only whether someone is there, and who: ``Snapshot.holder``)."""
    if command.card_uid is not None or snapshot.opened_for is None:
        return command.card_uid
    return command.door_key


def _take(step: _Step, command: Scan) -> Decision:
    consumable = step.snapshot.consumable
    assert consumable is not None
    member = step.snapshot.holder
    decision = decide_take(
        name=consumable.name_zh,
        quantity=consumable.quantity,
        card=_credential(step.snapshot, command),
        member=None if member is None else member.view(),
    )
    stocked = [batch for batch in consumable.batches if batch.quantity > 0]
    if decision.action is Action.TAKE and stocked:
        # The batch that expires first goes first; undated batches last.
        first = min(stocked, key=lambda b: (b.expires_on or date.max, b.id))
        step.changes.append(ConsumableTaken(first.id))
    return decision


def _lend(step: _Step, command: Scan, tag: str | None) -> tuple[Decision, str | None, ScanLoan]:
    snapshot = step.snapshot
    member = snapshot.holder
    line = None if snapshot.item is None else Line(snapshot.item, snapshot.queue)
    if line is not None:
        line = release_if_expired(line, now=snapshot.now, policy=snapshot.policy)
    hold = None if line is None else line.hold
    decision = decide_scan(
        tag=tag,
        card=_credential(snapshot, command),
        member=None if member is None else member.view(),
        item=None if line is None else line.item.view(),
        open_loan=None if snapshot.loan is None else snapshot.loan.view(),
        now=snapshot.now,
        tz=snapshot.hut.zone,
        policy=snapshot.policy,
        open_loans_in_category=0 if member is None or line is None else snapshot.in_category,
        held_for_member=hold is not None and member is not None and hold.member_id == member.id,
    )
    pending = step.take_pending_condition()
    if line is None:
        return decision, tag, None
    loan: ScanLoan = None
    if decision.action is Action.RETURN and snapshot.loan is not None:
        line = _return(step, line, snapshot.loan, pending)
        loan = snapshot.loan.ref
    elif decision.action is Action.FOUND:
        line = _found(step, line)
    elif decision.action is Action.BORROW and member is not None:
        assert decision.due_at is not None
        opened = LoanOpened(line.item.id, member.id, snapshot.hut.id, snapshot.now, decision.due_at)
        line = line.set_item(status=ItemStatus.ON_LOAN).with_changes(opened)
        if hold is not None:
            line = fulfil(line, hold, now=snapshot.now)
        loan = NEW_LOAN
    step.changes.extend(line.changes)
    return decision, tag, loan


def _return(step: _Step, line: Line, loan: LoanState, condition: ItemCondition | None) -> Line:
    snapshot = step.snapshot
    closed = LoanClosed(loan.ref, snapshot.now, snapshot.hut.id, condition)
    # The item now sits where it was brought back.
    line = line.with_changes(closed).set_item(
        status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id=snapshot.hut.id
    )
    if condition is not None and condition is not ItemCondition.OK:
        line = _set_condition(step, line, loan.ref, condition)
    if line.item.status is ItemStatus.AVAILABLE:
        line = hold_next(line, now=snapshot.now, policy=snapshot.policy)
    return line


def _found(step: _Step, line: Line) -> Line:
    snapshot = step.snapshot
    was = line.item.status
    line = line.set_item(hut_id=snapshot.hut.id)
    detail = f"scanned with no open loan (was {was})"
    line = line.with_changes(
        step.anomaly(AnomalyKind.RETURN_NOT_ON_LOAN, detail=detail, item_id=line.item.id)
    )
    waiting = bool(line.waiting)
    if (
        status_after_return(condition=line.item.condition, waiting=waiting)
        is ItemStatus.MAINTENANCE
    ):
        return line.set_item(status=ItemStatus.MAINTENANCE)
    if line.hold is None:
        return hold_next(line, now=snapshot.now, policy=snapshot.policy)
    return line


__all__ = [
    "ENROL_CLOCK_SKEW",
    "NOBODY_DETAIL",
    "NOBODY_TEXT_KEPT",
    "card_tap",
    "command_report",
    "door_change",
    "enrol_read",
    "enrolment_status",
    "scan",
]
