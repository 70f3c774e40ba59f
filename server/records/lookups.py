"""The existence and uniqueness checks of records, in bulk: one query per kind of lookup
however many rows ask (the API asks for one, an import for ten thousand)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.record_errors import FieldError
from server.records.fields import TEXT_NO_CATEGORY, TEXT_NO_HUT, TEXT_TAG_TAKEN
from server.storage.models import Consumable, Hut, Item, ItemCategory

# SQLite binds at most 32,766 parameters a statement (PostgreSQL 65,535): look up in chunks.
_CHUNK = 5000


def _present(db: Session, column: Any, values: Iterable[str]) -> set[str]:
    wanted = sorted(set(values))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(db.scalars(select(column).where(column.in_(chunk))))
    return found


def known_huts(db: Session, ids: Iterable[str]) -> set[str]:
    return _present(db, Hut.id, ids)


def known_categories(db: Session, keys: Iterable[str]) -> set[str]:
    return _present(db, ItemCategory.key, keys)


def item_tags(db: Session, tags: Iterable[str]) -> set[str]:
    return _present(db, Item.tag, tags)


def supply_tags(db: Session, tags: Iterable[str]) -> set[str]:
    return _present(db, Consumable.tag, tags)


def references(
    db: Session, wanted: Mapping[str, Iterable[str]], *, line: int | None = None
) -> list[FieldError]:
    """Errors for every ``hut`` and ``category`` in ``wanted`` that does not exist (the
    single-record form of the sheets' check)."""
    errors = []
    huts = set(wanted.get("hut", ()))
    categories = set(wanted.get("category", ()))
    for hut in sorted(huts - known_huts(db, huts)):
        errors.append(FieldError("hut", f"{TEXT_NO_HUT}: {hut!r}", line))
    for key in sorted(categories - known_categories(db, categories)):
        errors.append(FieldError("category", f"{TEXT_NO_CATEGORY}: {key!r}", line))
    return errors


def tag_free(db: Session, tag: str) -> list[FieldError]:
    """A new item's or supply's tag: unique across items and supplies both."""
    if item_tags(db, [tag]) or supply_tags(db, [tag]):
        return [FieldError("tag", f"{TEXT_TAG_TAKEN}: {tag!r}")]
    return []
