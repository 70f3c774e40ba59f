"""Apply one gateway event to the ledger, exactly once, and say what the hut should show.

Between the MQTT adapter and the database: no MQTT here, so any adapter (a replay tool,
a test, an HTTP upload later) applies events the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.domain import (
    DEFAULT_POLICY,
    Action,
    Decision,
    ItemView,
    LoanPolicy,
    LoanView,
    MemberView,
    Refusal,
    decide_scan,
    parse_scan_text,
)
from server.storage import queries
from server.storage.models import Hut, Member
from toolhut.contract import (
    Beep,
    CardEvent,
    ControllerEvent,
    DoorEvent,
    EventAck,
    Feedback,
    Outcome,
    ScanEvent,
)

log = logging.getLogger(__name__)

AnyEvent = CardEvent | ScanEvent | DoorEvent | ControllerEvent


def apply_event(
    session: Session,
    event: AnyEvent,
    *,
    hut: Hut,
    received_at: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
) -> EventAck:
    """Record ``event`` (from ``hut``) and apply it; a known event id changes nothing."""
    record = queries.claim_event(
        session,
        event_id=event.id,
        hut_id=hut.id,
        seq=event.seq,
        type=event.type,
        ts=event.ts,
        received_at=received_at,
        payload=event.model_dump(mode="json"),
    )
    if record is None:
        return EventAck(id=event.id, seq=event.seq, outcome=Outcome.DUPLICATE)
    # An offline hut reports later what happened earlier: loans date from the gateway's
    # clock, but never from the future of ours.
    happened_at = min(event.ts, received_at)
    reason: Refusal | None = None
    feedback: Feedback | None = None
    if isinstance(event, CardEvent):
        card = queries.find_card(session, event.card)
        reason = Refusal.UNKNOWN_CARD if card is None else None
    elif isinstance(event, ScanEvent):
        decision = _apply_scan(session, event, hut=hut, at=happened_at, policy=policy)
        reason = decision.reason
        feedback = Feedback(
            beep=Beep.OK if decision.feedback.ok else Beep.ERROR, text=decision.feedback.text
        )
    outcome = Outcome.APPLIED if reason is None else Outcome.REJECTED
    queries.set_event_outcome(
        record, outcome=outcome.value, reason=None if reason is None else reason.value
    )
    return EventAck(id=event.id, seq=event.seq, outcome=outcome, feedback=feedback)


def _apply_scan(
    session: Session, event: ScanEvent, *, hut: Hut, at: datetime, policy: LoanPolicy
) -> Decision:
    tag = parse_scan_text(event.text)
    shelf = queries.find_item(session, tag) if tag is not None else None
    member: Member | None = None
    if event.card is not None:
        card = queries.find_card(session, event.card)
        member = card.member if card is not None else None
    decision = decide_scan(
        tag=tag,
        card=event.card,
        member=None if member is None else MemberView(member.name, member.status),
        item=None
        if shelf is None
        else ItemView(shelf.item.tag, shelf.item.name_zh, shelf.item.category, shelf.item.status),
        open_loan=None
        if shelf is None or shelf.loan is None
        else LoanView(shelf.loan.borrowed_at, shelf.loan.due_at),
        now=at,
        tz=ZoneInfo(hut.timezone),
        policy=policy,
    )
    if decision.action is Action.RETURN and shelf is not None and shelf.loan is not None:
        queries.mark_returned(shelf.loan, at=at, hut_id=hut.id)
    elif decision.action is Action.BORROW and shelf is not None and member is not None:
        assert decision.due_at is not None
        queries.open_loan(
            session, item=shelf.item, member=member, hut_id=hut.id, at=at, due_at=decision.due_at
        )
    log.info(
        "hut %s seq %d scan %r card %s: %s %s",
        hut.id,
        event.seq,
        event.text[:80],
        event.card,
        decision.action.value,
        decision.reason.value if decision.reason else "",
    )
    return decision


__all__ = ["AnyEvent", "apply_event"]
