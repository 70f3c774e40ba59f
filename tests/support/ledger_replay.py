"""The ledger rebuilt from the event log alone: every stored event payload applied again,
per hut in seq order, into a fresh database through the ingest's own entry point
(``server.ledger.apply_batch``) with the time each event was first received, so the same
clock rule (a loan dates from the hut's ``ts``, capped at the receive time) applies.

Only per-hut order is replayed: the huts must share no member and no item."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.ledger import apply_batch
from server.storage import make_engine
from server.storage.models import Card, EventRecord, Hut, Item, Loan
from toolhut.contract import stored_event

Snapshot = dict[str, Any]


def stored_events(db_url: str) -> list[tuple[str, int, datetime, dict[str, Any]]]:
    """(hut, seq, received_at, payload) of every stored event, per hut in seq order."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            query = select(
                EventRecord.hut_id, EventRecord.seq, EventRecord.received_at, EventRecord.payload
            ).order_by(EventRecord.hut_id, EventRecord.seq)
            return [(hut, seq, at, payload) for hut, seq, at, payload in session.execute(query)]
    finally:
        engine.dispose()


def replay(source_url: str, target_url: str) -> int:
    """Apply ``source_url``'s event log to ``target_url`` (furnished, no events yet);
    returns how many events. One transaction per run of a hut's events received together."""
    rows = stored_events(source_url)
    engine = make_engine(target_url)
    try:
        for (_hut, received_at), run in groupby(rows, key=lambda row: (row[0], row[2])):
            events = [stored_event(payload) for *_, payload in run]
            with Session(engine) as session, session.begin():
                huts = {hut.id: hut for hut in session.scalars(select(Hut))}
                apply_batch(
                    session,
                    events,
                    huts=huts,
                    received_at=received_at,
                    gap_timeout=timedelta(days=1),  # in seq order: never a gap
                )
    finally:
        engine.dispose()
    return len(rows)


def ledger_snapshot(db_url: str) -> Snapshot:
    """What the replay must reproduce: each event's outcome, the loans (item, member's
    card, opened, due, closed) and every item's state."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            events = session.execute(
                select(EventRecord.event_id, EventRecord.outcome, EventRecord.reason)
            )
            loans = session.execute(
                select(Item.tag, Card.uid, Loan.borrowed_at, Loan.due_at, Loan.returned_at)
                .join(Item, Item.id == Loan.item_id)
                .join(Card, Card.member_id == Loan.member_id)
            )
            items = session.execute(select(Item.tag, Item.status, Item.condition, Item.hut_id))
            return {
                "events": sorted(tuple(row) for row in events),
                "loans": sorted((tuple(row) for row in loans), key=repr),
                "items": sorted((t, str(s), str(c), h) for t, s, c, h in items),
            }
    finally:
        engine.dispose()


def items_on_two_open_loans(db_url: str) -> Counter[str]:
    """Item tags with more than one open loan (the database forbids it; checked anyway)."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            query = (
                select(Item.tag, func.count())
                .join(Loan, Loan.item_id == Item.id)
                .where(Loan.returned_at.is_(None), Loan.lost_at.is_(None))
                .group_by(Item.tag)
                .having(func.count() > 1)
            )
            return Counter({tag: n for tag, n in session.execute(query)})
    finally:
        engine.dispose()
