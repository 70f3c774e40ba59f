"""The alarms as the live stream shows them: which, at which hut, and where each stands
(active, acknowledged, resolved), nothing of their detail. Alarms are raised and reviewed
by any server process, so the stream finds their changes by ``updated_at``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from server.storage.operations_models import Alarm


@dataclass(frozen=True, slots=True)
class AlarmView:
    id: int
    hut_id: str
    kind: str
    active: bool
    acknowledged: bool
    resolved: bool
    updated_at: datetime
    raised_at: datetime | None = None  # when the incident began (the dashboard's "since")

    def same_state(self, other: AlarmView | None) -> bool:
        """Whether ``other`` shows the same (an update of a column the stream does not
        show, a reminder sent, moves ``updated_at`` alone)."""
        return other is not None and self.key() == other.key()

    def key(self) -> tuple[int, str, str, bool, bool, bool]:
        return (self.id, self.hut_id, self.kind, self.active, self.acknowledged, self.resolved)


# id, hut, kind, active, acknowledged_at, resolved_at, updated_at, raised_at
_Views = Select[int, str, str, bool, datetime | None, datetime | None, datetime, datetime]


def _views() -> _Views:
    return select(
        Alarm.id,
        Alarm.hut_id,
        Alarm.kind,
        Alarm.active,
        Alarm.acknowledged_at,
        Alarm.resolved_at,
        Alarm.updated_at,
        Alarm.raised_at,
    )


def _read(db: Session, query: _Views) -> list[AlarmView]:
    return [
        AlarmView(id_, hut, kind, active, acked is not None, resolved is not None, updated, raised)
        for id_, hut, kind, active, acked, resolved, updated, raised in db.execute(query)
    ]


def open_alarms(db: Session) -> list[AlarmView]:
    """Every alarm not resolved yet, oldest first."""
    return _read(db, _views().where(Alarm.resolved_at.is_(None)).order_by(Alarm.id))


def alarm_changes(
    db: Session,
    *,
    since: datetime | None,
    after: tuple[datetime, int] | None = None,
    limit: int,
) -> list[AlarmView]:
    """Alarms updated at or after ``since`` (None: any), in the order of (updated_at, id),
    at most ``limit``, starting after ``after`` (the last of the previous page)."""
    query = _views()
    if since is not None:
        query = query.where(Alarm.updated_at >= since)
    if after is not None:
        at, alarm_id = after
        query = query.where(
            or_(Alarm.updated_at > at, and_(Alarm.updated_at == at, Alarm.id > alarm_id))
        )
    return _read(db, query.order_by(Alarm.updated_at, Alarm.id).limit(limit))


def newest_alarm_change(db: Session) -> datetime | None:
    """The latest ``updated_at`` of any alarm (None: no alarm yet)."""
    return db.scalar(select(func.max(Alarm.updated_at)))
