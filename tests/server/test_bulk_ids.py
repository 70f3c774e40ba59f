"""Ids from the sequence before a big flush (PostgreSQL): same rows, same order, and the
inserts go as one short executemany instead of multi-row VALUES ... RETURNING pages."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.storage.bulk_ids import MIN_ROWS
from server.storage.models import Member


def _inserts_into(engine: Engine, table: str) -> list[tuple[str, bool]]:
    seen: list[tuple[str, bool]] = []

    def record(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        if statement.startswith(f"INSERT INTO {table} "):
            seen.append((statement, many))

    event.listen(engine, "before_cursor_execute", record)
    return seen


def test_a_big_flush_keeps_insertion_order_and_ids_stay_unique(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    inserts = _inserts_into(engine, "members")
    names = [f"m{i:03d}" for i in range(3 * MIN_ROWS)]
    with sessions() as session, session.begin():
        session.add_all(Member(name=name, building_unit="1-1") for name in names)
    with sessions() as session, session.begin():
        session.add(Member(name="later", building_unit="1-1"))  # one row: the usual path
    with sessions() as session:
        rows = session.execute(select(Member.id, Member.name).order_by(Member.id)).all()
    assert [name for _id, name in rows][-len(names) - 1 :] == [*names, "later"]
    assert len({row_id for row_id, _name in rows}) == len(rows)
    if engine.dialect.name == "postgresql":
        many = [statement for statement, is_many in inserts if is_many]
        assert len(many) == 1, inserts
        # One row's placeholders, not a page of rows: psycopg parses it once and caches it.
        columns = len(Member.__table__.columns)
        assert "RETURNING" not in many[0] and many[0].count("%(") == columns


def test_a_small_flush_takes_the_usual_path(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    inserts = _inserts_into(engine, "members")
    with sessions() as session, session.begin():
        session.add_all(Member(name=f"s{i}", building_unit="1-1") for i in range(MIN_ROWS - 1))
    assert inserts and all("RETURNING" in statement for statement, _many in inserts)


def test_a_big_flush_after_a_write_goes_in_as_one_executemany(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """On SQLite too, once the transaction holds the write lock (there: ids after the
    largest, and after one a new row of the flush was given); in insertion order."""
    sqlite = engine.dialect.name == "sqlite"
    inserts = _inserts_into(engine, "members")
    names = [f"b{i:03d}" for i in range(2 * MIN_ROWS)]
    with sessions() as session, session.begin():
        session.add(Member(name="first", building_unit="1-1"))
        session.flush()  # the transaction's first write: the usual path
        largest = session.scalar(select(func.max(Member.id)))
        assert largest is not None
        if sqlite:  # (on PostgreSQL the sequence would hand out a given id again)
            session.add(Member(id=largest + 5, name="given", building_unit="1-1"))
        session.add_all(Member(name=name, building_unit="1-1") for name in names)
        inserts.clear()
        session.flush()
    with sessions() as session:
        rows = session.execute(select(Member.id, Member.name).order_by(Member.id)).all()
    new = [(row_id, name) for row_id, name in rows if name in names]
    assert [name for _id, name in new] == names
    ids = [row_id for row_id, _name in new]
    assert ids == sorted(ids) and min(ids) > largest
    if sqlite:
        assert ids == list(range(largest + 6, largest + 6 + len(names)))
    many = [statement for statement, is_many in inserts if is_many]
    assert len(many) == 1 and "RETURNING" not in many[0], inserts


def test_a_big_first_write_on_sqlite_takes_the_usual_path(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Before its first write a SQLite transaction holds no lock: another connection could
    take the ids, so the database numbers the rows."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes ids from the sequence whenever (the first test)")
    inserts = _inserts_into(engine, "members")
    with sessions() as session, session.begin():
        session.add_all(Member(name=f"f{i}", building_unit="1-1") for i in range(2 * MIN_ROWS))
    assert inserts and all("RETURNING" in statement for statement, _many in inserts)
