"""The two writes every record makes, each with its audit entry: a new row, and a
versioned edit (StaleVersionError when the row is no longer at the version the editor
read)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import StaleVersionError
from server.records.fields import values_of
from server.storage import audit
from server.storage.versioned import update_versioned


def add(
    db: Session,
    row: Any,
    *,
    entity: str,
    key: object,
    audited: tuple[str, ...],
    actor: Actor,
    now: datetime,
) -> Any:
    """Insert ``row``; the entry ``<entity>.create`` names it by ``key`` (None: by the id
    the database gave it)."""
    db.add(row)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=f"{entity}.create",
        entity=entity,
        entity_id=row.id if key is None else key,
        at=now,
        after=values_of(row, audited),
    )
    return row


def edit(
    db: Session,
    row: Any,
    *,
    expected: int,
    values: Mapping[str, Any],
    entity: str,
    key: object,
    audited: tuple[str, ...],
    actor: Actor,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set ``values`` on ``row`` if it is at version ``expected``; the entry
    ``<entity>.update`` holds the audited columns before and after, which are returned."""
    if row.version != expected:
        raise StaleVersionError(row.version)
    before = values_of(row, audited)
    update_versioned(db, row, expected=expected, values=values)
    after = values_of(row, audited)
    audit.record(
        db,
        actor=actor,
        action=f"{entity}.update",
        entity=entity,
        entity_id=key,
        at=now,
        before=before,
        after=after,
    )
    return before, after
