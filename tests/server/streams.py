"""Event streams as a hut sends them, the same stream duplicated, reordered and split into
batches as the broker may deliver it, and a snapshot of the ledger to compare runs by."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from server.ledger import AnyEvent, apply_batch
from server.seed import seed_demo
from server.storage.models import (
    Anomaly,
    Base,
    DoorSession,
    EventRecord,
    Hut,
    Item,
    Loan,
    Member,
    SessionScan,
)
from server.storage.rating_models import LoanRating
from toolhut.contract import CardDecision, CardEvent, DoorEvent, DoorState, ScanEvent

from .conftest import T0

HUTS = ("demo-hut", "hut-b")
# Per hut: its cards and labels. Only per-hut order is defined, so the huts share no
# member and no item (a limit or a loan would otherwise depend on the order across huts);
# unknown cards and labels, a condition card, a rating card and a staff card (stocktake)
# included.
CARDS = {"demo-hut": ("04A1B2C3", "DEADBEEF"), "hut-b": ("04D5E6F7", "04ABCDEF", "DEADBEEF")}
TAGS = {
    "demo-hut": ("T0001", "T0002", "T0003", "T9999", "COND:REPAIR", "RATE:GOOD"),
    "hut-b": ("T0010", "T0005", "T0007", "T9999", "COND:OK", "RATE:2"),
}
RECEIVED_AT = T0 + timedelta(days=1)
_KEEP = {"categories", "member_flag_rules"}  # reference data the migrations seed


def reset(sessions: sessionmaker[Session]) -> None:
    """Every table empty but the reference data, then the demo seed on two huts."""
    with sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in _KEEP:
                session.execute(delete(table))
        seed_demo(session)
        session.add(Hut(id="hut-b", name="二号屋"))


def visits(
    hut: str,
    plan: Sequence[tuple[str, Sequence[str]]],
    *,
    starts: Sequence[datetime] | None = None,
) -> list[AnyEvent]:
    """A hut's stream, seq 1, 2, 3 ...: per visit a card tap, door open, scans, door close.

    Event n happens n seconds after T0, or after its visit's entry in ``starts``."""
    events: list[AnyEvent] = []

    def common(kind: str, visit: int) -> dict[str, Any]:
        seq = len(events) + 1
        return {
            "id": f"{hut}-{seq:05d}-{kind}",
            "hut": hut,
            "seq": seq,
            "ts": (T0 if starts is None else starts[visit]) + timedelta(seconds=seq),
            "session": f"{hut}-s{visit}",
        }

    for visit, (card, tags) in enumerate(plan):
        events.append(CardEvent(**common("card", visit), card=card, decision=CardDecision.UNLOCKED))
        events.append(DoorEvent(**common("door", visit), state=DoorState.OPEN))
        for tag in tags:
            events.append(ScanEvent(**common("scan", visit), text=tag, card=card))
        events.append(DoorEvent(**common("door", visit), state=DoorState.CLOSED))
    return events


def interleave(streams: Sequence[list[AnyEvent]], rng: random.Random) -> list[AnyEvent]:
    """The huts' streams merged as they might reach the broker, each hut in its own order."""
    cursors = [0] * len(streams)
    merged: list[AnyEvent] = []
    while any(c < len(s) for c, s in zip(cursors, streams, strict=True)):
        i = rng.choice([i for i, s in enumerate(streams) if cursors[i] < len(s)])
        merged.append(streams[i][cursors[i]])
        cursors[i] += 1
    return merged


def mess_up(events: list[AnyEvent], rng: random.Random, *, copies: int = 3) -> list[AnyEvent]:
    """Each event one to ``copies`` times, in any order (held-back gaps included)."""
    delivered = [e for e in events for _ in range(rng.randint(1, copies))]
    rng.shuffle(delivered)
    return delivered


def batches(
    events: list[AnyEvent], rng: random.Random, *, largest: int = 12
) -> list[list[AnyEvent]]:
    out: list[list[AnyEvent]] = []
    i = 0
    while i < len(events):
        size = rng.randint(1, largest)
        out.append(events[i : i + size])
        i += size
    return out


def ingest(sessions: sessionmaker[Session], groups: list[list[AnyEvent]]) -> None:
    """Through the worker's path, one transaction per batch, the clock never past the gap
    timeout: a gap is always filled in time."""
    received_at = RECEIVED_AT
    for group in groups:
        with sessions.begin() as session:
            huts = {hut.id: hut for hut in session.scalars(select(Hut))}
            apply_batch(
                session,
                group,
                huts=huts,
                received_at=received_at,
                gap_timeout=timedelta(hours=1),
            )


def snapshot(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """The ledger without row ids: what staff and residents would see."""
    with sessions() as session:
        return {name: sorted(rows, key=repr) for name, rows in _rows(session).items()}


def _rows(session: Session) -> dict[str, Any]:
    return {
        "events": ((r.event_id, r.outcome, r.reason) for r in session.scalars(select(EventRecord))),
        "items": (
            (i.tag, i.status.value, i.condition.value, i.hut_id)
            for i in session.scalars(select(Item))
        ),
        "loans": (
            (
                loan.item.tag,
                loan.member.name,
                loan.borrowed_at,
                loan.due_at,
                loan.returned_at,
                loan.return_condition,
            )
            for loan in session.scalars(select(Loan))
        ),
        "sessions": (
            (d.hut_id, d.key, d.mode, d.card_uid, d.scans, d.flag, d.closed_at)
            for d in session.scalars(select(DoorSession))
        ),
        "scans": (
            (s.door_session_id and _key(session, s.door_session_id), s.seq, s.tag, s.action)
            for s in session.scalars(select(SessionScan))
        ),
        "anomalies": (
            (a.hut_id, a.kind, a.item_id and _tag(session, a.item_id), a.created_at)
            for a in session.scalars(select(Anomaly))
        ),
        "ratings": (
            (
                _tag(session, r.item_id),
                r.hut_id,
                _name(session, r.member_id),
                r.score,
                r.source,
                r.rated_at,
            )
            for r in session.scalars(select(LoanRating))
        ),
    }


def _name(session: Session, member_id: int) -> str:
    member = session.get(Member, member_id)
    assert member is not None
    return member.name


def _key(session: Session, door_session_id: int) -> str:
    door = session.get(DoorSession, door_session_id)
    assert door is not None
    return door.key


def _tag(session: Session, item_id: int) -> str:
    item = session.get(Item, item_id)
    assert item is not None
    return item.tag
