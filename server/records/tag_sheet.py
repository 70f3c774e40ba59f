"""A Sheet (server.tabular.spec) of records keyed by their label's tag: items and
supplies. Rows are checked with the records' own field model and the same lookups as the
API (in bulk: one query per kind of lookup for the whole file), written as an upsert by
tag with one audit entry per changed record, and exported in tag order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError, InvalidFieldsError
from server.records.fields import (
    TEXT_NO_CATEGORY,
    TEXT_NO_HUT,
    TEXT_TAG_TAKEN,
    TEXT_TWICE,
    TaggedFields,
    validated,
    values_of,
)
from server.records.lookups import known_categories, known_huts
from server.storage import audit
from server.tabular.spec import Column, SheetRow, cells, stale, versions

_CHUNK = 5000

# The columns every tagged record has, first in each sheet.
TAGGED_COLUMNS = (
    Column("tag", "标签", "Tag", required=True),
    Column("name_zh", "中文名称", "Chinese name", required=True),
    Column("name_en", "英文名称", "English name", required=True),
    Column("category", "类别", "Category", required=True),
    Column("hut", "工具屋", "Hut", required=True),
)


@dataclass(frozen=True, slots=True)
class TagSheet:
    """``fields``: the records' create model (the row's cells); ``model``: the table;
    ``columns_of``: the model's fields as the table's columns; ``taken``: the tags of the
    other kind (a tag is unique across items and supplies); ``audited``: the columns the
    audit log records."""

    kind: str
    entity: str
    columns: tuple[Column, ...]
    fields: type[TaggedFields]
    model: Any
    columns_of: Callable[[dict[str, Any]], dict[str, Any]]
    taken: Callable[[Session, Iterable[str]], set[str]]
    audited: tuple[str, ...]

    def _parsed(self, rows: Sequence[SheetRow]) -> tuple[list[tuple[int, Any]], list[FieldError]]:
        parsed, errors = [], []
        for row in rows:
            try:
                parsed.append((row.line, validated(self.fields, cells(row), line=row.line)))
            except InvalidFieldsError as exc:
                errors.extend(exc.errors)
        return parsed, errors

    def check(self, db: Session, rows: Sequence[SheetRow]) -> list[FieldError]:
        parsed, errors = self._parsed(rows)
        given, version_errors = versions(rows)
        errors.extend(version_errors)
        tags = [fields.tag for _, fields in parsed]
        current = self._versions(db, [f.tag for line, f in parsed if line in given])
        huts = known_huts(db, (fields.hut for _, fields in parsed))
        categories = known_categories(db, (fields.category for _, fields in parsed))
        taken = self.taken(db, tags)
        seen: set[str] = set()
        for line, fields in parsed:
            if fields.tag in seen:
                errors.append(FieldError("tag", f"{TEXT_TWICE}: {fields.tag!r}", line))
            seen.add(fields.tag)
            if fields.tag in taken:
                errors.append(FieldError("tag", f"{TEXT_TAG_TAKEN}: {fields.tag!r}", line))
            if fields.hut not in huts:
                errors.append(FieldError("hut", f"{TEXT_NO_HUT}: {fields.hut!r}", line))
            if fields.category not in categories:
                errors.append(
                    FieldError("category", f"{TEXT_NO_CATEGORY}: {fields.category!r}", line)
                )
            changed = stale(line, fields.tag, given, current)
            if changed is not None:
                errors.append(changed)
        return sorted(errors, key=lambda e: (e.line or 0, e.field))

    def _versions(self, db: Session, tags: Sequence[str]) -> dict[str, int]:
        """The current version of each record of ``tags`` there is."""
        found: dict[str, int] = {}
        for start in range(0, len(tags), _CHUNK):
            chunk = tags[start : start + _CHUNK]
            query = select(self.model.tag, self.model.version).where(self.model.tag.in_(chunk))
            found.update((tag, version) for tag, version in db.execute(query))
        return found

    def _existing(self, db: Session, tags: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(tags), _CHUNK):
            chunk = tags[start : start + _CHUNK]
            query = select(self.model).where(self.model.tag.in_(chunk))
            found.update((row.tag, row) for row in db.scalars(query))
        return found

    def write(self, db: Session, rows: Sequence[SheetRow], *, actor: Actor, now: datetime) -> int:
        parsed, errors = self._parsed(rows)
        if errors:
            raise InvalidFieldsError(errors)  # check() first: nothing is half-written
        existing = self._existing(db, [fields.tag for _, fields in parsed])
        entries: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]] = []
        new = []
        for _, fields in parsed:
            values = self.columns_of(fields.model_dump())
            row = existing.get(fields.tag)
            if row is None:
                new.append(self.model(**values, version=1))
                entries.append((fields.tag, None, {k: values[k] for k in self.audited}))
                continue
            before = values_of(row, self.audited)
            after = {key: values[key] for key in self.audited}
            if after != before:
                for key, value in after.items():
                    setattr(row, key, value)
                row.version += 1
                entries.append((fields.tag, before, after))
        db.add_all(new)
        db.flush()
        audit.record_many(
            db,
            actor=actor,
            action=f"{self.entity}.import",
            entity=self.entity,
            at=now,
            entries=entries,
        )
        return len(entries)

    def export(self, db: Session) -> Iterator[dict[str, str]]:
        keys = [column.key for column in self.columns]
        for row in db.scalars(select(self.model).order_by(self.model.tag)).yield_per(1000):
            values = {
                "tag": row.tag,
                "hut": row.hut_id,
                "version": row.version,
                **values_of(row, self.audited),
            }
            yield {key: _cell(values.get(key)) for key in keys}


def _cell(value: object) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))
