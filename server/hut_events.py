"""What card taps, door changes and scans do to the ledger (called by ledger.apply_event).

A scan means, in this order: a count, if the session is a staff stocktake; a condition
card (``COND:REPAIR`` ...) about the session's last return; an item label (borrow, return,
found); a consumable's shelf label (take one).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.domain import (
    Action,
    Decision,
    Feedback,
    ItemCondition,
    ItemStatus,
    LoanPolicy,
    Refusal,
    SessionMode,
    decide_scan,
    decide_take,
    flag_on_close,
    parse_condition_text,
    parse_scan_text,
    session_mode,
    status_after_return,
)
from server.domain.lending import CONDITION_TEXT, display, refuse
from server.storage import consumables, door_sessions, event_log, queries, reservations
from server.storage.batch_cache import BatchCache
from server.storage.door_sessions import AnomalyKind
from server.storage.models import Card, Consumable, DoorSession, Hut, Item, Loan, Member
from server.storage.policy_store import count_open_loans
from server.storage.views import item_view, loan_view, member_view
from toolhut.contract import CardDecision, CardEvent, DoorEvent, DoorState, ScanEvent

log = logging.getLogger(__name__)


def find_card(session: Session, uid: str, *, cache: BatchCache | None = None) -> Card | None:
    return queries.find_card(session, uid) if cache is None else cache.card(uid)


def apply_card(
    session: Session,
    event: CardEvent,
    *,
    hut: Hut,
    at: datetime,
    cache: BatchCache | None = None,
) -> Refusal | None:
    card = find_card(session, event.card, cache=cache)
    if card is None:
        return Refusal.UNKNOWN_CARD
    if event.session is not None and event.decision is CardDecision.UNLOCKED:
        door_sessions.get_or_open(
            session,
            hut_id=hut.id,
            key=event.session,
            at=at,
            card_uid=card.uid,
            member=card.member,
            mode=session_mode(card.member.flags),
            cache=cache,
        )
    return None


def record_enrolment(
    session: Session,
    event: CardEvent,
    *,
    hut: Hut,
    at: datetime,
    cache: BatchCache | None = None,
) -> None:
    """A card read in staff enrol mode: staff see it and give it to a member."""
    card = find_card(session, event.card, cache=cache)
    event_log.add_enrolment(
        session,
        hut_id=hut.id,
        card_uid=event.card.upper(),
        event_id=event.id,
        at=at,
        member_id=None if card is None else card.member_id,
    )
    # The UID is a credential: it stays in the database, for signed-in staff, never in a log.
    log.info("hut %s: a card was read for enrolment (event %s)", hut.id, event.id)


def apply_door(
    session: Session,
    event: DoorEvent,
    *,
    hut: Hut,
    at: datetime,
    cache: BatchCache | None = None,
) -> None:
    if event.session is None:
        return
    door = door_sessions.get_or_open(session, hut_id=hut.id, key=event.session, at=at, cache=cache)
    if event.state is DoorState.OPEN:
        if door.door_opened_at is None or at < door.door_opened_at:
            door.door_opened_at = at
        return
    if door.closed_at is not None:
        return
    door.closed_at = at
    mode = SessionMode(door.mode)
    flag = flag_on_close(mode=mode, door_opened=door.door_opened_at is not None, scans=door.scans)
    if flag is not None:
        door.flag = flag.value
        door_sessions.add_anomaly(
            session,
            hut_id=hut.id,
            kind=AnomalyKind.UNSCANNED_REMOVAL,
            at=at,
            member_id=door.member_id,
            door=door,
            detail="door opened, nothing scanned",
        )
        log.warning("hut %s session %s: door opened, nothing scanned", hut.id, door.key)
    if mode is SessionMode.STOCKTAKE:
        door_sessions.close_stocktake(session, door, at=at)


def apply_scan(
    session: Session,
    event: ScanEvent,
    *,
    hut: Hut,
    at: datetime,
    policy: LoanPolicy,
    cache: BatchCache | None = None,
) -> Decision:
    member: Member | None = None
    if event.card is not None:
        card = find_card(session, event.card, cache=cache)
        member = card.member if card is not None else None
    door: DoorSession | None = None
    if event.session is not None:
        door = door_sessions.get_or_open(
            session,
            hut_id=hut.id,
            key=event.session,
            at=at,
            card_uid=None if member is None else event.card,
            member=member,
            mode=session_mode(member.flags) if member is not None else SessionMode.LENDING,
            cache=cache,
        )
    scan = _Scan(
        session, event, hut=hut, at=at, policy=policy, member=member, door=door, cache=cache
    )
    decision, tag, loan = scan.decide()
    if door is not None:
        door_sessions.record_scan(
            session,
            door,
            seq=event.seq,
            at=at,
            text=event.text,
            tag=tag,
            action=decision.action.value,
            reason=None if decision.reason is None else decision.reason.value,
            loan=loan,
        )
    log.info(  # by the session, never the card: a card UID is a credential
        "hut %s seq %d scan %r session %s: %s %s",
        hut.id,
        event.seq,
        event.text[:80],
        event.session,
        decision.action.value,
        decision.reason.value if decision.reason else "",
    )
    return decision


class _Scan:
    """One scan's work; returns (decision, tag, the loan it concerned)."""

    def __init__(
        self,
        session: Session,
        event: ScanEvent,
        *,
        hut: Hut,
        at: datetime,
        policy: LoanPolicy,
        member: Member | None,
        door: DoorSession | None,
        cache: BatchCache | None,
    ) -> None:
        self.session = session
        self.cache = cache
        self.event = event
        self.hut = hut
        self.at = at
        self.policy = policy
        self.member = member
        self.door = door

    def decide(self) -> tuple[Decision, str | None, Loan | None]:
        if self.door is not None and self.door.mode == SessionMode.STOCKTAKE:
            return self._count()
        condition = parse_condition_text(self.event.text)
        if condition is not None:
            return self._condition(condition), None, None
        tag = parse_scan_text(self.event.text)
        shelf = self._find_item(tag) if tag is not None else None
        if shelf is None and tag is not None:
            consumable = consumables.find(self.session, tag)
            if consumable is not None:
                return self._take(consumable), tag, None
        return self._lend(tag, shelf)

    def _count(self) -> tuple[Decision, str | None, Loan | None]:
        assert self.door is not None
        tag = parse_scan_text(self.event.text)
        if tag is None:
            return refuse(Refusal.UNREADABLE_LABEL), None, None
        shelf = self._find_item(tag)
        name = tag if shelf is None else shelf.item.name_zh
        seen = door_sessions.counted_tags(self.session, self.door)
        seen[tag] += 1
        text = display("盘点 {name} 共" + str(len(seen)) + "件", name=name)
        return Decision(Action.COUNT, Feedback(True, text)), tag, None

    def _find_item(self, tag: str) -> queries.ItemOnShelf | None:
        if self.cache is None:
            return queries.find_item(self.session, tag)
        return self.cache.item(tag)

    def _unreserved(self, item: Item) -> bool:
        """Known to have nobody waiting and no hold (so the reservation queries can go)."""
        return self.cache is not None and self.cache.has_no_reservations(item.id)

    def _hold_next(self, item: Item) -> None:
        if self._unreserved(item):
            item.status = ItemStatus.AVAILABLE  # what hold_next does when nobody waits
            return
        reservations.hold_next(self.session, item, now=self.at, policy=self.policy)

    def _condition(self, condition: ItemCondition) -> Decision:
        if self.door is None:
            return refuse(Refusal.NO_SESSION)
        last = door_sessions.last_return(self.session, self.door)
        loan = (
            None if last is None or last.loan_id is None else self.session.get(Loan, last.loan_id)
        )
        if loan is None:
            # Card before item: it applies to the next return of this session.
            self.door.pending_condition = condition.value
            return Decision(Action.CONDITION, Feedback(True, "请扫描归还的物品"))
        self._set_condition(loan, condition)
        return Decision(Action.CONDITION, Feedback(True, CONDITION_TEXT[condition]))

    def _set_condition(self, loan: Loan, condition: ItemCondition) -> None:
        item = loan.item
        loan.return_condition = condition.value
        item.condition = condition
        if condition is ItemCondition.MISSING_PART:
            self._anomaly(AnomalyKind.MISSING_PART, item, detail="returned with a part missing")
        if condition is ItemCondition.NEEDS_REPAIR:
            self._anomaly(AnomalyKind.NEEDS_REPAIR, item, detail="returned needing repair")
            if item.status is ItemStatus.RESERVED and not self._unreserved(item):
                reservations.unhold(self.session, item.id)
            if item.status in (ItemStatus.AVAILABLE, ItemStatus.RESERVED):
                item.status = ItemStatus.MAINTENANCE
        elif item.status is ItemStatus.MAINTENANCE:
            # Corrected within the session (REPAIR scanned by mistake, then OK).
            self._hold_next(item)

    def _take(self, consumable: Consumable) -> Decision:
        decision = decide_take(
            name=consumable.name_zh,
            quantity=consumable.quantity,
            card=self.event.card,
            member=None if self.member is None else member_view(self.member),
        )
        if decision.action is Action.TAKE:
            consumables.take_one(consumable)
        return decision

    def _lend(
        self, tag: str | None, shelf: queries.ItemOnShelf | None
    ) -> tuple[Decision, str | None, Loan | None]:
        item = None if shelf is None else shelf.item
        hold = None
        in_category = 0
        if item is not None:
            if not self._unreserved(item):
                reservations.release_if_expired(self.session, item, now=self.at, policy=self.policy)
                hold = reservations.current_hold(self.session, item.id)
            if self.member is not None and self.cache is not None:
                in_category = self.cache.open_loans_in(
                    member_id=self.member.id, category=item.category
                )
            elif self.member is not None:
                in_category = count_open_loans(
                    self.session, member_id=self.member.id, category=item.category
                )
        decision = decide_scan(
            tag=tag,
            card=self.event.card,
            member=None if self.member is None else member_view(self.member),
            item=None if item is None else item_view(item),
            open_loan=None if shelf is None or shelf.loan is None else loan_view(shelf.loan),
            now=self.at,
            tz=ZoneInfo(self.hut.timezone),
            policy=self.policy,
            open_loans_in_category=in_category,
            held_for_member=hold is not None
            and self.member is not None
            and hold.member_id == self.member.id,
        )
        pending = self._take_pending_condition()
        if item is None or shelf is None:
            return decision, tag, None
        if decision.action is Action.RETURN and shelf.loan is not None:
            self._return(shelf.loan, pending)
            return decision, tag, shelf.loan
        if decision.action is Action.FOUND:
            self._found(item)
        elif decision.action is Action.BORROW and self.member is not None:
            assert decision.due_at is not None
            loan = queries.open_loan(
                self.session,
                item=item,
                member=self.member,
                hut_id=self.hut.id,
                at=self.at,
                due_at=decision.due_at,
            )
            if hold is not None:
                reservations.fulfil(hold, now=self.at)
            if self.cache is not None:
                self.cache.loan_opened(loan)
            return decision, tag, loan
        return decision, tag, None

    def _take_pending_condition(self) -> ItemCondition | None:
        if self.door is None or self.door.pending_condition is None:
            return None
        pending = ItemCondition(self.door.pending_condition)
        self.door.pending_condition = None
        return pending

    def _return(self, loan: Loan, condition: ItemCondition | None) -> None:
        item = loan.item
        queries.mark_returned(
            loan,
            at=self.at,
            hut_id=self.hut.id,
            condition=None if condition is None else condition.value,
        )
        if self.cache is not None:
            self.cache.loan_closed(loan)
        item.condition = ItemCondition.OK
        if condition is not None and condition is not ItemCondition.OK:
            self._set_condition(loan, condition)
        if item.status is ItemStatus.AVAILABLE:
            self._hold_next(item)

    def _found(self, item: Item) -> None:
        was = item.status
        item.hut_id = self.hut.id
        self._anomaly(
            AnomalyKind.RETURN_NOT_ON_LOAN, item, detail=f"scanned with no open loan (was {was})"
        )
        unreserved = self._unreserved(item)
        waiting = not unreserved and bool(reservations.waiting(self.session, item.id))
        if status_after_return(condition=item.condition, waiting=waiting) is ItemStatus.MAINTENANCE:
            item.status = ItemStatus.MAINTENANCE
        elif unreserved or reservations.current_hold(self.session, item.id) is None:
            self._hold_next(item)

    def _anomaly(self, kind: AnomalyKind, item: Item, *, detail: str) -> None:
        door_sessions.add_anomaly(
            self.session,
            hut_id=self.hut.id,
            kind=kind,
            at=self.at,
            item_id=item.id,
            member_id=None if self.member is None else self.member.id,
            door=self.door,
            detail=detail,
        )
