"""PostgreSQL: the ids of a flush's many new rows, taken from their sequences first.

New rows without a primary key go in as multi-row ``INSERT ... VALUES ... RETURNING``
pages, whose long text psycopg parses anew on every flush: most of the flush of an ingest
batch (hundreds of door sessions, loans and scans). With their ids set beforehand, the
same rows go in as one short executemany statement, which psycopg prepares once and
pipelines. Below ``MIN_ROWS`` new rows of a table nothing changes (one round trip for the
ids would cost more than it saves).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Mapper, Session, sessionmaker

MIN_ROWS = 8

_NEXT_IDS = text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)")
_SEQUENCE = text("SELECT pg_get_serial_sequence(:table, :column)")


class _SequenceNames:
    """Each table's id sequence, looked up once per database session factory (None: no
    serial id)."""

    def __init__(self) -> None:
        self._names: dict[str, str | None] = {}

    def of(self, db: Session, mapper: Mapper[Any]) -> str | None:
        table = mapper.local_table
        key = getattr(table, "fullname", str(table))
        if key not in self._names:
            self._names[key] = _serial_sequence(db, mapper)
        return self._names[key]


def _serial_sequence(db: Session, mapper: Mapper[Any]) -> str | None:
    if len(mapper.primary_key) != 1:
        return None
    column = mapper.primary_key[0]
    if column.autoincrement is False or column.type.python_type is not int:
        return None
    table = mapper.local_table
    name = getattr(table, "fullname", "")
    found = db.scalar(_SEQUENCE, {"table": name, "column": column.name})
    return None if found is None else str(found)


def install(factory: sessionmaker[Session]) -> None:
    """Give the sessions of ``factory`` (on PostgreSQL) ids from sequences before a flush."""
    names = _SequenceNames()

    def before_flush(db: Session, _context: Any, _instances: Any) -> None:
        pending: dict[Mapper[Any], list[Any]] = defaultdict(list)
        for obj in db.new:
            mapper = inspect(obj).mapper
            if mapper.primary_key_from_instance(obj)[0] is None:
                pending[mapper].append(obj)
        for mapper, objects in pending.items():
            if len(objects) < MIN_ROWS:
                continue
            sequence = names.of(db, mapper)
            if sequence is None:
                continue
            ids = db.scalars(_NEXT_IDS, {"sequence": sequence, "n": len(objects)}).all()
            attribute = mapper.get_property_by_column(mapper.primary_key[0]).key
            # In the order they were added, so ids still follow insertion order.
            objects.sort(key=lambda obj: inspect(obj).insert_order)
            for obj, new_id in zip(objects, ids, strict=True):
                setattr(obj, attribute, int(new_id))

    event.listen(factory, "before_flush", before_flush)


__all__ = ["MIN_ROWS", "install"]
