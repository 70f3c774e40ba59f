"""The hut display's part of reminders: a pending line shown when the member's card next
opens a session (on the ack of the card event)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.storage import queries, reminder_queries


def display_line_for_card(session: Session, *, card_uid: str, now: datetime) -> str | None:
    """The member's pending reminder line, marked shown; None if there is none."""
    card = queries.find_card(session, card_uid)
    if card is None:
        return None
    return reminder_queries.take_display_message(session, member_id=card.member_id, now=now)
