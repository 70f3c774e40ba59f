"""The connection the ingest worker keeps between its transactions
(server.storage.kept_connection): one checkout for many transactions, each committed;
a failed one rolled back and its connection given back; a connection the database closed
meanwhile replaced, the transaction run again and committed."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from server.storage.kept_connection import KeptConnection
from server.storage.models import Hut


def _checkouts(engine: Engine) -> list[object]:
    seen: list[object] = []

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        seen.append(dbapi_connection)

    event.listen(engine, "checkout", checkout)
    return seen


def _add_hut(hut_id: str) -> Any:
    def work(db: Session) -> None:
        db.add(Hut(id=hut_id, name=hut_id, timezone="Asia/Shanghai", allowlist_version=0))

    return work


def _huts(sessions: sessionmaker[Session]) -> set[str]:
    """Read on a connection of its own: what is there is committed."""
    with sessions() as db:
        return set(db.scalars(select(Hut.id)))


def test_one_checkout_for_many_transactions_each_committed(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    checkouts = _checkouts(engine)
    kept = KeptConnection(sessions)
    for hut_id in ("kc-a", "kc-b", "kc-c"):
        kept.transaction(_add_hut(hut_id))
    assert len(checkouts) == 1
    assert kept.kept
    assert _huts(sessions) == {"kc-a", "kc-b", "kc-c"}  # seen from another connection
    kept.release()
    assert not kept.kept


def test_a_failed_transaction_is_rolled_back_and_its_connection_given_back(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    kept = KeptConnection(sessions)
    kept.transaction(_add_hut("kc-a"))

    def fails(db: Session) -> None:
        _add_hut("kc-b")(db)
        db.flush()  # in the database, uncommitted
        raise RuntimeError("a bug in the batch")

    with pytest.raises(RuntimeError, match="a bug"):
        kept.transaction(fails)
    assert not kept.kept
    assert _huts(sessions) == {"kc-a"}
    checkouts = _checkouts(engine)
    assert kept.transaction(lambda db: db.get(Hut, "kc-a")) is not None
    assert len(checkouts) == 1  # a connection from the pool again
    kept.release()


def test_a_connection_the_database_closed_is_replaced_and_the_work_run_again(
    engine: Engine, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a database server closing a connection: PostgreSQL's (SQLite has none)")
    kept = KeptConnection(sessions)
    backend = kept.transaction(lambda db: db.scalar(text("SELECT pg_backend_pid()")))
    with engine.connect() as other:  # as a restarted database, or an administrator, would
        assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    runs: list[int] = []

    def work(db: Session) -> int:
        runs.append(1)
        _add_hut("kc-after")(db)
        return int(db.scalar(text("SELECT pg_backend_pid()")))

    with caplog.at_level(logging.WARNING, logger="server.storage.kept_connection"):
        now_backend = kept.transaction(work)
    assert len(runs) == 2  # the first died with the old connection
    assert now_backend != backend
    assert _huts(sessions) == {"kc-after"}
    assert "kept database connection was closed" in caplog.text
    kept.release()


def test_a_fresh_connection_that_fails_is_not_tried_again(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Only a kept connection is replaced at once: a database that is away is the caller's
    to wait for (the ingest worker's with_db_retry)."""
    kept = KeptConnection(sessions)
    runs: list[int] = []

    def bad_sql(db: Session) -> None:
        runs.append(1)
        db.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"):
        kept.transaction(bad_sql)
    assert len(runs) == 1
    assert not kept.kept
