"""The ids of a flush's many new rows, set before the flush, so that they go in as one
executemany without RETURNING.

Without ids, new rows go in as ``INSERT ... RETURNING``: on PostgreSQL as multi-row
``VALUES`` pages, whose long text psycopg parses anew on every flush; on SQLite, which
cannot tell which returned row is which parameter set's, as one statement per row (an
ingest batch's hundreds of door sessions and loans were a statement and a trip through
the ORM's insert machinery each). With their ids set beforehand, the same rows go in as
one short executemany statement, which psycopg prepares once and pipelines and SQLite runs
in one call. Below ``MIN_ROWS`` new rows of a table nothing changes (one more statement
would cost more than it saves).

Where the ids come from:

- PostgreSQL: the table's id sequence, so concurrent sessions never take the same one;
- SQLite: one past the table's largest id (what SQLite itself gives a table without
  AUTOINCREMENT), and only in a transaction that has already written: SQLite lets one
  connection write at a time, so no other can take an id until this one commits. A flush
  that is a transaction's first write takes the usual path.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from functools import cache
from typing import Any, cast

from sqlalchemy import Column, Table, event, func, select, text
from sqlalchemy.orm import InstanceState, Mapper, Session, sessionmaker
from sqlalchemy.orm.attributes import instance_state

MIN_ROWS = 8

_NEXT_IDS = text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)")
_SEQUENCE = text("SELECT pg_get_serial_sequence(:table, :column)")


def _serial_id(mapper: Mapper[Any]) -> Column[Any] | None:
    """The mapper's integer primary key the database numbers, or None."""
    if len(mapper.primary_key) != 1:
        return None
    column = cast("Column[Any]", mapper.primary_key[0])  # a mapped table's column
    if column.autoincrement is False or column.type.python_type is not int:
        return None
    return column


@cache
def _id_attribute(mapper: Mapper[Any]) -> str | None:
    """The attribute of the mapper's id the database numbers (``_serial_id``), or None."""
    column = _serial_id(mapper)
    return None if column is None else mapper.get_property_by_column(column).key


class _Sequences:
    """PostgreSQL: ids from each table's sequence, looked up once per session factory."""

    def __init__(self) -> None:
        self._names: dict[str, str | None] = {}

    def take(
        self, db: Session, mapper: Mapper[Any], column: Column[Any], n: int, _given: int
    ) -> list[int]:
        table = mapper.local_table
        key = getattr(table, "fullname", str(table))
        if key not in self._names:
            found = db.scalar(_SEQUENCE, {"table": key, "column": column.name})
            self._names[key] = None if found is None else str(found)
        sequence = self._names[key]
        if sequence is None:
            return []
        return [int(i) for i in db.scalars(_NEXT_IDS, {"sequence": sequence, "n": n})]


class _AfterLargest:
    """SQLite: the ids after the table's largest, while this transaction holds the lock."""

    def take(
        self, db: Session, mapper: Mapper[Any], column: Column[Any], n: int, given: int
    ) -> list[int]:
        connection = db.connection()
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            return []  # it has not written yet: another connection may write first
        table = mapper.local_table
        assert isinstance(table, Table)
        largest = connection.scalar(select(func.max(table.c[column.name]))) or 0
        # Above any id a new row of this flush was given (it keeps its own).
        return list(range(max(largest, given) + 1, max(largest, given) + 1 + n))


def install(factory: sessionmaker[Session]) -> None:
    """Give the sessions of ``factory`` the ids of a flush's many new rows beforehand."""
    bind = factory.kw["bind"]
    source = _Sequences() if bind.dialect.name == "postgresql" else _AfterLargest()

    def before_flush(db: Session, _context: Any, _instances: Any) -> None:
        pending: dict[Mapper[Any], list[InstanceState[Any]]] = defaultdict(list)
        given: dict[Mapper[Any], int] = defaultdict(int)  # the largest id a new row has
        for obj in db.new:
            state = instance_state(obj)
            mapper = state.mapper
            attribute = _id_attribute(mapper)
            if attribute is None:
                continue
            # Read from the row's own dict: a new row's attribute is never expired.
            key = state.dict.get(attribute)
            if key is None:
                pending[mapper].append(state)
            elif isinstance(key, int):
                given[mapper] = max(given[mapper], key)
        for mapper, states in pending.items():
            if len(states) < MIN_ROWS:
                continue
            column = _serial_id(mapper)
            assert column is not None  # _id_attribute found it
            ids = source.take(db, mapper, column, len(states), given[mapper])
            if not ids:
                continue
            attribute = _id_attribute(mapper)
            assert attribute is not None
            # In the order they were added, so ids still follow insertion order.
            states.sort(key=operator.attrgetter("insert_order"))
            for state, new_id in zip(states, ids, strict=True):
                setattr(state.obj(), attribute, new_id)

    event.listen(factory, "before_flush", before_flush)


__all__ = ["MIN_ROWS", "install"]
