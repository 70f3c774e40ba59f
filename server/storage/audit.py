"""The audit log: every staff write appended with who, when, what, before and after.

``record`` is the only writer; nothing updates or deletes an entry, except erasure of a
member who left (``redact``), which replaces that member's personal values in the entries
about them and is itself recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.storage.staff_models import AuditEntry

Values = Mapping[str, Any]


def plain(values: Values | None) -> dict[str, Any] | None:
    """``values`` as JSON can hold them: times and dates as ISO text, enums as values,
    sets as sorted lists."""
    if values is None:
        return None
    return {key: _plain(value) for key, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record(
    db: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    at: datetime,
    before: Values | None = None,
    after: Values | None = None,
) -> None:
    """Append one entry (flushed with the caller's transaction: the write and its entry
    commit or roll back together)."""
    db.add(
        AuditEntry(
            at=at,
            user_id=actor.user_id,
            actor=actor.name,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=plain(before),
            after=plain(after),
            address=actor.address,
        )
    )


def record_many(
    db: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    at: datetime,
    entries: Iterable[tuple[object, Values | None, Values | None]],
) -> int:
    """Append one entry per (entity id, before, after) in one statement (an import of
    10,000 rows); returns how many."""
    rows = [
        {
            "at": at,
            "user_id": actor.user_id,
            "actor": actor.name,
            "action": action,
            "entity": entity,
            "entity_id": str(entity_id),
            "before": plain(before),
            "after": plain(after),
            "address": actor.address,
        }
        for entity_id, before, after in entries
    ]
    if rows:
        db.execute(insert(AuditEntry), rows)
    return len(rows)
