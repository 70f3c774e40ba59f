"""The ledger of the rule book gives, on the same seeded random runs, the ledger the old
hut_events path gave (tests/data/ledger_golden/, written by tests/support/ledger_golden.py
on the tree before the rule book), on SQLite and PostgreSQL: items, loans, reservations,
notices, door sessions, scans, anomalies, stocktakes, event outcomes and every ack's
feedback. Two families: mixed runs (run-NN) and runs heavy in waiting lists (queue-NN).

Each run starts by emptying the ledger (ledger_golden.reset), so the runs of one module
share a database per dialect: migrating one per run would take most of the time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.storage import make_engine, make_sessionmaker, migrate
from tests.support.ledger_golden import RUNS, Family, canonical, golden_path, run
from tests.support.services import fresh_postgres_schema


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def golden_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """One migrated database per dialect for the module's runs."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('golden')}/toolhut.sqlite3"
        yield from _sessions(url)
        return
    with fresh_postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield from _sessions(url)


def _sessions(url: str) -> Iterator[sessionmaker[Session]]:
    migrate(url)
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("family", "seed"), RUNS, ids=[f"{f.name}-{s:02d}" for f, s in RUNS])
def test_the_ledger_of_a_random_run_is_the_golden_one(
    golden_db: sessionmaker[Session], family: Family, seed: int
) -> None:
    expected = json.loads(golden_path(seed, family).read_text(encoding="utf-8"))
    got = json.loads(canonical(run(golden_db, seed, family)))
    for table in sorted(expected):
        assert got[table] == expected[table], table
    assert got == expected
