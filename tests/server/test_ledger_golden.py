"""The ledger of the rule book gives, on the same seeded random runs, the ledger the old
hut_events path gave (tests/data/ledger_golden/, written by tests/support/ledger_golden.py
before it was deleted), on SQLite and PostgreSQL: items, loans, reservations, notices,
door sessions, scans, anomalies, stocktakes, event outcomes and every ack's feedback."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.ledger_golden import SEEDS, canonical, golden_path, run


@pytest.mark.parametrize("seed", SEEDS)
def test_the_ledger_of_a_random_run_is_the_golden_one(
    sessions: sessionmaker[Session], seed: int
) -> None:
    expected = json.loads(golden_path(seed).read_text(encoding="utf-8"))
    got = json.loads(canonical(run(sessions, seed)))
    for table in sorted(expected):
        assert got[table] == expected[table], table
    assert got == expected
