"""What the metrics read from the live operation tables at scrape time: one aggregate
query each, whatever the number of huts or alarms (server.operations_gauges)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.storage.models import Hut
from server.storage.operations_models import Alarm, HutState


@dataclass(frozen=True, slots=True)
class HutCounts:
    known: int  # huts in the database
    reporting: int  # of those, huts whose gateway ever reported a status
    online: int


def hut_counts(db: Session) -> HutCounts:
    online = func.coalesce(func.sum(case((HutState.online.is_(True), 1), else_=0)), 0)
    row = db.execute(
        select(func.count(Hut.id), func.count(HutState.hut_id), online)
        .select_from(Hut)
        .outerjoin(HutState, HutState.hut_id == Hut.id)
    ).one()
    return HutCounts(known=int(row[0]), reporting=int(row[1]), online=int(row[2]))


def open_alarms_by_kind(db: Session) -> dict[str, int]:
    """Alarms staff have not resolved yet (whether or not their condition still lasts)."""
    rows = db.execute(
        select(Alarm.kind, func.count()).where(Alarm.resolved_at.is_(None)).group_by(Alarm.kind)
    ).all()
    return {str(kind): int(count) for kind, count in rows}


__all__ = ["HutCounts", "hut_counts", "open_alarms_by_kind"]
