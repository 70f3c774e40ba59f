"""Edits that cannot silently overwrite another's: an UPDATE that only matches the
version the editor read, and bumps it (atomic in the database, not a read-then-write)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

from server.domain.record_errors import StaleVersionError


def update_versioned(db: Session, row: Any, *, expected: int, values: Mapping[str, Any]) -> None:
    """Set ``values`` on ``row`` if its stored version is ``expected``, and bump the
    version; StaleVersionError (with the current version) otherwise. ``row`` is refreshed."""
    model = type(row)
    keys = inspect(model).primary_key
    where = [column == getattr(row, column.key) for column in keys]
    result = db.execute(
        update(model)
        .where(*where, model.version == expected)
        .values(**values, version=model.version + 1)
        .execution_options(synchronize_session=False)
    )
    db.refresh(row)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersionError(row.version)
