"""Apply one gateway event to the ledger, exactly once, and say what the hut should show.

Between the MQTT adapter and the database: no MQTT here, so any adapter (a replay tool,
a test, an HTTP upload later) applies events the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from server import hut_events
from server.domain import (
    DEFAULT_POLICY,
    LoanPolicy,
    Refusal,
)
from server.reminders.display import display_line_for_card
from server.storage import queries
from server.storage.models import Hut
from server.storage.policy_store import load_policy
from toolhut.contract import (
    AnyEvent,
    Beep,
    CardEvent,
    DoorEvent,
    EventAck,
    Feedback,
    Outcome,
    ScanEvent,
)

log = logging.getLogger(__name__)


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
        reason = hut_events.apply_card(session, event, hut=hut, at=happened_at)
        if reason is None and event.decision == "unlocked":
            # A reminder waiting for this member's next visit goes on the hut display.
            line = display_line_for_card(session, card_uid=event.card, now=received_at)
            if line is not None:
                feedback = Feedback(beep=Beep.OK, text=line)
    elif isinstance(event, DoorEvent):
        hut_events.apply_door(session, event, hut=hut, at=happened_at)
    elif isinstance(event, ScanEvent):
        # The stored policy (categories table) wins over ``policy`` where it has a category.
        stored = load_policy(session, base=policy)
        decision = hut_events.apply_scan(session, event, hut=hut, at=happened_at, policy=stored)
        reason = decision.reason
        feedback = Feedback(
            beep=Beep.OK if decision.feedback.ok else Beep.ERROR, text=decision.feedback.text
        )
    outcome = Outcome.APPLIED if reason is None else Outcome.REJECTED
    queries.set_event_outcome(
        record, outcome=outcome.value, reason=None if reason is None else reason.value
    )
    return EventAck(id=event.id, seq=event.seq, outcome=outcome, feedback=feedback)


__all__ = ["AnyEvent", "apply_event"]
