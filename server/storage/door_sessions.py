"""Door sessions, their scans, stocktakes and the anomalies staff should look at."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import ItemStatus, SessionMode, StocktakeResult, stocktake_report
from server.domain.ledger_state import AnomalyKind
from server.storage import scan_buffer
from server.storage.models import (
    Anomaly,
    DoorSession,
    Item,
    Loan,
    Member,
    SessionScan,
    Stocktake,
    StocktakeLineRow,
)

if TYPE_CHECKING:
    from server.storage.batch_cache import BatchCache

# On the shelf of their hut, as far as the ledger knows: what a stocktake should see.
ON_SHELF = (ItemStatus.AVAILABLE, ItemStatus.RESERVED, ItemStatus.MAINTENANCE)


def find(session: Session, *, hut_id: str, key: str) -> DoorSession | None:
    query = select(DoorSession).where(DoorSession.hut_id == hut_id, DoorSession.key == key)
    return session.scalars(query).one_or_none()


def get_or_open(
    session: Session,
    *,
    hut_id: str,
    key: str,
    at: datetime,
    card_uid: str | None = None,
    member: Member | None = None,
    mode: SessionMode = SessionMode.LENDING,
    cache: BatchCache | None = None,
) -> DoorSession:
    """The session with the gateway's id ``key``; opened on its first event, whichever
    type arrives first (events of one session may come in any order across batches)."""
    door = find(session, hut_id=hut_id, key=key) if cache is None else cache.door(hut_id, key)
    if door is None:
        door = DoorSession(
            hut_id=hut_id, key=key, mode=mode, started_at=at, scans=0, card_uid=card_uid
        )
        session.add(door)
        if cache is not None:
            cache.door_opened(door)
    if member is not None and door.member_id is None:
        door.member = member
        # Set the column too: the next event may read it before anything flushes.
        door.member_id = member.id
        door.card_uid = card_uid
        door.mode = mode
        door.started_at = min(door.started_at, at)
    # A new session is inserted by the transaction's next flush: scans and anomalies point
    # at it through relationships, so ingest need not flush per visit.
    if door.mode == SessionMode.STOCKTAKE and stocktake_of(session, with_id(session, door)) is None:
        session.add(
            Stocktake(
                hut_id=hut_id, door_session_id=door.id, member_id=door.member_id, started_at=at
            )
        )
        session.flush()
    return door


def with_id(session: Session, door: DoorSession) -> int:
    """The session's id, flushing it first if it is still pending (rare paths only)."""
    if door.id is None:
        session.flush()
    return door.id


def record_scan(
    session: Session,
    door: DoorSession,
    *,
    seq: int,
    at: datetime,
    text: str,
    tag: str | None,
    action: str,
    reason: str | None = None,
    loan: Loan | None = None,
) -> None:
    door.scans += 1
    scan_buffer.add(
        session,
        scan_buffer.PendingScan(
            door=door, seq=seq, at=at, text=text, tag=tag, action=action, reason=reason, loan=loan
        ),
    )


def last_return(session: Session, door: DoorSession) -> SessionScan | None:
    scan_buffer.write_pending(session)
    query = (
        select(SessionScan)
        .where(
            SessionScan.door_session_id == with_id(session, door),
            SessionScan.action == "return",
            SessionScan.loan_id.is_not(None),
        )
        .order_by(SessionScan.seq.desc())
    )
    return session.scalars(query).first()


def counted_tags(session: Session, door: DoorSession) -> Counter[str]:
    scan_buffer.write_pending(session)
    query = select(SessionScan.tag).where(
        SessionScan.door_session_id == with_id(session, door),
        SessionScan.action == "count",
        SessionScan.tag.is_not(None),
    )
    return Counter(tag for tag in session.scalars(query) if tag is not None)


def stocktake_of(session: Session, door_session_id: int) -> Stocktake | None:
    query = select(Stocktake).where(Stocktake.door_session_id == door_session_id)
    return session.scalars(query).one_or_none()


def close_stocktake(session: Session, door: DoorSession, *, at: datetime) -> Stocktake | None:
    """Write the report: items expected on this hut's shelf and not seen, and the reverse."""
    stocktake = stocktake_of(session, door.id)
    if stocktake is None or stocktake.closed_at is not None:
        return stocktake
    expected = {
        item.tag: item
        for item in session.scalars(
            select(Item).where(Item.hut_id == door.hut_id, Item.status.in_(ON_SHELF))
        )
    }
    seen = counted_tags(session, door)
    others = {
        item.tag: item
        for item in session.scalars(select(Item).where(Item.tag.in_(set(seen) - set(expected))))
    }
    for line in stocktake_report(expected=expected, seen=seen):
        item = expected.get(line.tag) or others.get(line.tag)
        session.add(
            StocktakeLineRow(
                stocktake_id=stocktake.id,
                tag=line.tag,
                item_id=None if item is None else item.id,
                result=line.result.value,
                count=line.count,
            )
        )
    stocktake.closed_at = at
    session.flush()
    session.refresh(stocktake)
    return stocktake


def get_stocktake(session: Session, stocktake_id: int) -> Stocktake | None:
    return session.get(Stocktake, stocktake_id)


def list_sessions(
    session: Session, *, flag: str | None = None, hut_id: str | None = None, limit: int = 100
) -> Sequence[DoorSession]:
    query = select(DoorSession).order_by(DoorSession.started_at.desc(), DoorSession.id.desc())
    if flag is not None:
        query = query.where(DoorSession.flag == flag)
    if hut_id is not None:
        query = query.where(DoorSession.hut_id == hut_id)
    return session.scalars(query.limit(limit)).all()


def scans_of(session: Session, door: DoorSession) -> Sequence[SessionScan]:
    scan_buffer.write_pending(session)
    query = select(SessionScan).where(SessionScan.door_session_id == door.id)
    return session.scalars(query.order_by(SessionScan.seq)).all()


def add_anomaly(
    session: Session,
    *,
    hut_id: str,
    kind: AnomalyKind,
    at: datetime,
    item_id: int | None = None,
    member_id: int | None = None,
    door: DoorSession | None = None,
    detail: str = "",
) -> Anomaly:
    anomaly = Anomaly(
        hut_id=hut_id,
        kind=kind.value,
        item_id=item_id,
        member_id=member_id,
        door_session=door,
        detail=detail,
        created_at=at,
    )
    session.add(anomaly)
    return anomaly


def open_anomalies(session: Session, *, hut_id: str | None = None) -> Sequence[Anomaly]:
    query = select(Anomaly).where(Anomaly.resolved_at.is_(None)).order_by(Anomaly.id)
    if hut_id is not None:
        query = query.where(Anomaly.hut_id == hut_id)
    return session.scalars(query).all()


__all__ = ["ON_SHELF", "AnomalyKind", "StocktakeResult"]
