"""The audit log: every staff write appended with who, when, what, before and after.

``record`` is the only writer; nothing updates or deletes an entry, except erasure of a
member who left (``redact``), which replaces that member's personal values in the entries
about them and is itself recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.storage.staff_models import AuditEntry
from toolhut.i18n import bilingual

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


@dataclass(frozen=True, slots=True)
class Stamp:
    """Who does a write and when: what an action that audits itself is handed."""

    actor: Actor
    at: datetime

    def record(
        self,
        db: Session,
        *,
        action: str,
        entity: str,
        entity_id: object,
        before: Values | None = None,
        after: Values | None = None,
    ) -> None:
        record(
            db,
            actor=self.actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            at=self.at,
            before=before,
            after=after,
        )


REDACTED = bilingual("erased]")


def redact(db: Session, *, entity: str, entity_id: object, fields: Iterable[str]) -> int:
    """The one rewrite the log allows (erasure of a person): in every entry about
    ``entity`` ``entity_id``, the values of ``fields`` in before and after are replaced by
    REDACTED (present values only: what was not recorded stays absent). Returns how many
    entries changed."""
    names = frozenset(fields)
    query = select(AuditEntry).where(
        AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id)
    )
    return sum(redact_entry(entry, names) for entry in db.scalars(query))


def redact_entry(entry: AuditEntry, fields: Iterable[str]) -> bool:
    """``redact`` of one entry (for a person's values in entries about something else,
    such as their rating of a wish); whether it changed."""
    names = frozenset(fields)
    before, after = _redacted(entry.before, names), _redacted(entry.after, names)
    if before == entry.before and after == entry.after:
        return False
    entry.before, entry.after = before, after
    return True


def _redacted(values: dict[str, Any] | None, names: frozenset[str]) -> dict[str, Any] | None:
    if values is None:
        return None
    return {
        key: REDACTED if key in names and value not in (None, "", []) else value
        for key, value in values.items()
    }
