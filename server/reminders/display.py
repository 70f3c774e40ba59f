"""The hut display's part of reminders: which line a message leaves for the display, and
the pending line shown when the member's card next opens a session (on the ack of the
card event)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from server.reminders.payloads import NoticeEntry, PayloadEntry
from server.storage import queries, reminder_queries


def display_line_for_card(db: Session, *, card_uid: str, now: datetime) -> str | None:
    """The member's pending reminder line, marked shown; None if there is none."""
    card = queries.find_card(db, card_uid)
    if card is None:
        return None
    return reminder_queries.take_display_message(db, member_id=card.member_id, now=now)


def display_text(rendered: str, entries: Sequence[PayloadEntry] | None) -> str:
    """The line a message leaves for the display: a notice's own words from the ledger
    where it has them, else the template's (``rendered``)."""
    first = entries[0] if entries else None
    if isinstance(first, NoticeEntry) and first.display:
        return first.display
    return rendered
