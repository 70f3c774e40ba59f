from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import DateTime, Engine, func, inspect, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.seed import DEMO_ITEMS, DEMO_MEMBERS, seed_demo
from server.storage import DatabaseUrlError, make_engine, migrate, normalize_db_url
from server.storage.coltypes import NaiveDatetimeError, UtcDateTime
from server.storage.models import Base, EventRecord, Hut, Item, Loan, Member
from server.storage.queries import claim_event


def test_migrations_apply_from_empty_and_match_the_models(db_url: str, engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"huts", "items", "members", "cards", "loans", "events", "rejected_messages"} <= tables
    migrate(db_url)  # twice is harmless
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("events")}
    assert "ix_events_hut_id_seq" in indexes


def _claim(session: Session, event_id: str) -> EventRecord | None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return claim_event(
        session,
        event_id=event_id,
        hut_id="demo-hut",
        seq=1,
        type="door",
        ts=now,
        received_at=now,
        payload={"type": "door"},
    )


def test_duplicate_event_id_is_stopped_by_the_constraint(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        seed_demo(session)
        assert _claim(session, "e-00000001") is not None
        assert _claim(session, "e-00000001") is None  # same transaction
    with sessions.begin() as session:
        assert _claim(session, "e-00000001") is None  # later transaction
        # The constraint itself, not a lookup, refuses a plain second insert.
        session.add(
            EventRecord(
                event_id="e-00000001",
                hut_id="demo-hut",
                seq=2,
                type="door",
                ts=datetime.now(UTC),
                received_at=datetime.now(UTC),
                payload={},
                outcome="applied",
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 1


def test_times_come_back_aware_in_utc(sessions: sessionmaker[Session]) -> None:
    shanghai_noon = datetime(2026, 11, 27, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    with sessions.begin() as session:
        seed_demo(session)
        item = session.scalars(select(Item)).first()
        member = session.scalars(select(Member)).first()
        assert item is not None and member is not None
        session.add(
            Loan(
                item=item,
                member=member,
                hut_id="demo-hut",
                borrowed_at=shanghai_noon,
                due_at=shanghai_noon + timedelta(days=1),
            )
        )
    with sessions() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.borrowed_at == shanghai_noon
        assert loan.borrowed_at.utcoffset() == timedelta(0)
        assert loan.borrowed_at.hour == 4


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 27, 12, 0, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 11, 27, 2, 3, 4, 5, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_sqlite_stores_utc_datetimes_as_its_datetime_type_writes_them(moment: datetime) -> None:
    # UtcDateTime writes SQLite's text in one step; it must be the text SQLite's DATETIME
    # type writes for the same moment in UTC, or stored rows would sort and compare apart.
    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(NaiveDatetimeError):
        ours(moment.replace(tzinfo=None))


def test_seed_is_idempotent(engine: Engine, sessions: sessionmaker[Session]) -> None:
    assert seed_demo(engine) > 0
    assert seed_demo(engine) == 0
    with sessions() as session:
        hut = session.get(Hut, "demo-hut")
        assert hut is not None and hut.name == "幸福里社区工具屋"
        assert hut.timezone == "Asia/Shanghai"
        assert session.scalar(select(func.count()).select_from(Item)) == len(DEMO_ITEMS)
        assert session.scalar(select(func.count()).select_from(Member)) == len(DEMO_MEMBERS)


def test_foreign_keys_are_enforced(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.add(Item(tag="T9999", name_zh="x", name_en="x", category="x", hut_id="nowhere"))
        with pytest.raises(IntegrityError):
            session.flush()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://h/db", "postgresql+psycopg://h/db"),
        ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_normalize_db_url(url: str, expected: str) -> None:
    assert normalize_db_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "not a url"])
def test_unsupported_db_url(url: str) -> None:
    with pytest.raises(DatabaseUrlError):
        normalize_db_url(url)


def test_the_migrations_form_one_line_with_a_single_head() -> None:
    # Revisions written in parallel must be rebased onto each other, not left as branches:
    # a second head would make every start fail with "multiple head revisions".
    from alembic.script import ScriptDirectory

    from server.storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    chain = [rev.revision for rev in script.walk_revisions()]
    assert chain[-1] == "0001" and len(chain) == len(set(chain))


def test_a_sqlite_file_gives_back_the_connection_used_last(tmp_path: Path) -> None:
    """Each SQLite connection has its own page cache, emptied once another connection has
    written: the pool must hand a thread the connection it returned last (LIFO), not the
    longest idle one, or every ingest transaction reads its pages from the file again."""
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}")
    try:
        first, second = engine.raw_connection(), engine.raw_connection()
        first_dbapi, second_dbapi = first.dbapi_connection, second.dbapi_connection
        first.close()
        second.close()  # returned last
        again = engine.raw_connection()
        assert again.dbapi_connection is second_dbapi
        assert again.dbapi_connection is not first_dbapi
        again.close()
    finally:
        engine.dispose()
