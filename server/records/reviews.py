"""What staff do with what the system flagged (an alarm, an anomaly, a sequence gap, a dead
letter): acknowledge it ("I have seen it, I am on it") and resolve it with a note, each
audited with who and when. One step for the four kinds: each is a ``Reviewable`` (its
table, its name in the audit log, and what else a review changes on it), and the review
columns are the same on every table (server/storage/reviewed.py).

The state is the check: a review is a conditional UPDATE that matches only a row still in
the state the step starts from (acknowledge: neither acknowledged nor resolved; resolve:
not resolved), so two staff reviewing at once cannot both win, and the loser hears why
(ReviewConflictError, a 409) instead of overwriting the first one's note. The steps only
go forward (open, acknowledged, resolved), so the state does what a version number does
for records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, select, update
from sqlalchemy.orm import Session

from server.staff_actions import NotFoundError
from server.storage.audit import Stamp
from server.storage.ingest_models import SequenceGap
from server.storage.models import Anomaly, RejectedMessage
from server.storage.operations_models import Alarm
from server.storage.staff_models import StaffUser
from toolhut.i18n import bilingual

MAX_NOTE = 500  # characters of a review note

TEXT_NOT_FOUND = bilingual("no {entity} {id}")
TEXT_ALREADY_RESOLVED = bilingual("already resolved: nothing more to do")
TEXT_ALREADY_ACKNOWLEDGED = bilingual("already acknowledged")


class ReviewState(StrEnum):
    """Where a flagged row stands for staff. ``open``: not resolved yet (acknowledged or
    not); ``active``: an alarm whose condition still lasts (alarms only)."""

    OPEN = "open"
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ReviewConflictError(Exception):
    """The row is not in the state the step starts from; ``reason`` is machine-readable
    (``resolved``, ``acknowledged``), ``text`` what staff read."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text}")
        self.reason = reason
        self.text = text


Values = Callable[[datetime], Mapping[str, Any]]


def _nothing(_now: datetime) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Reviewable:
    """A table staff review: its model, its name in the audit log (``<entity>.acknowledge``,
    ``<entity>.resolve``) and in errors, and what else each step sets on the row."""

    model: Any
    entity: str
    on_acknowledge: Values = field(default=_nothing)
    on_resolve: Values = field(default=_nothing)


def _alarm_acknowledged(now: datetime) -> Mapping[str, Any]:
    # Someone is on it: no more reminders (the first message still goes if it has not).
    pending = case((Alarm.notified_at.is_(None), Alarm.notify_due_at), else_=None)
    return {"notify_due_at": pending, "updated_at": now}


def _alarm_resolved(now: datetime) -> Mapping[str, Any]:
    return {"notify_due_at": None, "updated_at": now}


ALARMS = Reviewable(Alarm, "alarm", _alarm_acknowledged, _alarm_resolved)
ANOMALIES = Reviewable(Anomaly, "anomaly")
SEQUENCE_GAPS = Reviewable(SequenceGap, "sequence_gap")
DEAD_LETTERS = Reviewable(RejectedMessage, "dead_letter")


def state_is(kind: Reviewable, state: ReviewState) -> ColumnElement[bool]:
    """The rows of ``kind`` in ``state`` (for a list's filter)."""
    model = kind.model
    if state is ReviewState.OPEN:
        return model.resolved_at.is_(None)
    if state is ReviewState.ACKNOWLEDGED:
        return and_(model.resolved_at.is_(None), model.acknowledged_at.is_not(None))
    if state is ReviewState.RESOLVED:
        return model.resolved_at.is_not(None)
    if kind is not ALARMS:
        raise ValueError(f"{state.value}: alarms only")
    return and_(Alarm.resolved_at.is_(None), Alarm.active.is_(True))


def state_of(row: Any) -> ReviewState:
    if row.resolved_at is not None:
        return ReviewState.RESOLVED
    if row.acknowledged_at is not None:
        return ReviewState.ACKNOWLEDGED
    return ReviewState.OPEN


def acknowledge(
    db: Session, kind: Reviewable, row_id: int, *, note: str | None, stamp: Stamp
) -> Any:
    """Mark the row seen by ``stamp``'s staff member; ReviewConflictError if it is
    acknowledged or resolved already, NotFoundError if there is none. The caller commits."""
    model = kind.model
    values = {
        "acknowledged_at": stamp.at,
        "acknowledged_by_id": stamp.actor.user_id,
        "acknowledge_note": note,
        **kind.on_acknowledge(stamp.at),
    }
    where = (model.id == row_id, model.resolved_at.is_(None), model.acknowledged_at.is_(None))
    return _step(db, kind, row_id, where, values, stamp=stamp, action="acknowledge", note=note)


def resolve(db: Session, kind: Reviewable, row_id: int, *, note: str, stamp: Stamp) -> Any:
    """Close the row with ``note``: whether it was acknowledged first or not, it is done;
    ReviewConflictError if it was resolved already. The caller commits."""
    model = kind.model
    values = {
        "resolved_at": stamp.at,
        "resolved_by_id": stamp.actor.user_id,
        "resolve_note": note,
        **kind.on_resolve(stamp.at),
    }
    where = (model.id == row_id, model.resolved_at.is_(None))
    return _step(db, kind, row_id, where, values, stamp=stamp, action="resolve", note=note)


def _step(
    db: Session,
    kind: Reviewable,
    row_id: int,
    where: Iterable[ColumnElement[bool]],
    values: Mapping[str, Any],
    *,
    stamp: Stamp,
    action: str,
    note: str | None,
) -> Any:
    model = kind.model
    before = db.get(model, row_id)
    if before is None:
        raise NotFoundError(TEXT_NOT_FOUND.format(entity=kind.entity, id=row_id))
    was = state_of(before)
    result: Any = db.execute(
        update(model).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    row = db.get(model, row_id, populate_existing=True)
    if result.rowcount != 1 or row is None:
        now = state_of(row) if row is not None else was
        if now is ReviewState.RESOLVED:
            raise ReviewConflictError("resolved", TEXT_ALREADY_RESOLVED)
        raise ReviewConflictError("acknowledged", TEXT_ALREADY_ACKNOWLEDGED)
    stamp.record(
        db,
        action=f"{kind.entity}.{action}",
        entity=kind.entity,
        entity_id=row_id,
        before={"state": was.value},
        after={"state": state_of(row).value, "note": note},
    )
    return row


def reviewers(db: Session, rows: Iterable[Any]) -> dict[int, str]:
    """The usernames of the staff who reviewed ``rows`` (one query for a page)."""
    ids = {
        user_id
        for row in rows
        for user_id in (row.acknowledged_by_id, row.resolved_by_id)
        if user_id is not None
    }
    if not ids:
        return {}
    found = db.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(ids)))
    return {user_id: username for user_id, username in found}


__all__ = [
    "ALARMS",
    "ANOMALIES",
    "DEAD_LETTERS",
    "MAX_NOTE",
    "SEQUENCE_GAPS",
    "ReviewConflictError",
    "ReviewState",
    "Reviewable",
    "acknowledge",
    "resolve",
    "reviewers",
    "state_is",
    "state_of",
]
