"""Door sessions, their scans, stocktakes and the anomalies staff should look at: the
read views (the rule book decides their changes, storage/effect_writer.py writes them)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import ItemStatus, StocktakeResult
from server.domain.ledger_state import AnomalyKind
from server.storage.models import Anomaly, DoorSession, SessionScan, Stocktake

# On the shelf of their hut, as far as the ledger knows: what a stocktake should see.
ON_SHELF = (ItemStatus.AVAILABLE, ItemStatus.RESERVED, ItemStatus.MAINTENANCE)


def stocktake_of(db: Session, door_session_id: int) -> Stocktake | None:
    query = select(Stocktake).where(Stocktake.door_session_id == door_session_id)
    return db.scalars(query).one_or_none()


def get_stocktake(db: Session, stocktake_id: int) -> Stocktake | None:
    return db.get(Stocktake, stocktake_id)


def list_sessions(
    db: Session, *, flag: str | None = None, hut_id: str | None = None, limit: int = 100
) -> Sequence[DoorSession]:
    query = select(DoorSession).order_by(DoorSession.started_at.desc(), DoorSession.id.desc())
    if flag is not None:
        query = query.where(DoorSession.flag == flag)
    if hut_id is not None:
        query = query.where(DoorSession.hut_id == hut_id)
    return db.scalars(query.limit(limit)).all()


def scans_of(db: Session, door: DoorSession) -> Sequence[SessionScan]:
    query = select(SessionScan).where(SessionScan.door_session_id == door.id)
    return db.scalars(query.order_by(SessionScan.seq)).all()


def open_anomalies(db: Session, *, hut_id: str | None = None) -> Sequence[Anomaly]:
    query = select(Anomaly).where(Anomaly.resolved_at.is_(None)).order_by(Anomaly.id)
    if hut_id is not None:
        query = query.where(Anomaly.hut_id == hut_id)
    return db.scalars(query).all()


__all__ = ["ON_SHELF", "AnomalyKind", "StocktakeResult"]
