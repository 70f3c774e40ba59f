"""Ids from the sequence before a big flush (PostgreSQL): same rows, same order, and the
inserts go as one short executemany instead of multi-row VALUES ... RETURNING pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, select
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
