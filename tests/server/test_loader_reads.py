"""The loader's batch reads find exactly what a batch names, and on SQLite each is an index
search: none reads a whole table, so a batch costs the same after a year of door sessions
and loans as on the first day (a row-value IN list of door sessions, and a member's loans
counted through their whole history, once did)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from server.domain import SessionMode
from server.ledger import PRELOAD_FROM, AnyEvent, apply_batch
from server.seed import DEMO_ITEMS, DEMO_MEMBERS, seed_demo
from server.storage import loader_statements as q
from server.storage import queries
from server.storage.effect_writer import EffectWriter
from server.storage.models import DoorSession
from server.storage.snapshots import Snapshots, keys_of
from toolhut.contract import DoorState, Outcome

from . import factories
from .conftest import T0


def _door(hut: str, key: str) -> DoorSession:
    return DoorSession(hut_id=hut, key=key, mode=SessionMode.LENDING.value, started_at=T0)


@pytest.fixture
def two_huts(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The demo's data on two huts, each with door sessions "s1" and "s2" (the same keys)."""
    with sessions.begin() as db:
        seed_demo(db, hut_id="hut-a")
        seed_demo(db, hut_id="hut-b")
        db.add_all(_door(hut, key) for hut in ("hut-a", "hut-b") for key in ("s1", "s2"))
    return sessions


def test_doors_finds_exactly_the_pairs_asked_for(two_huts: sessionmaker[Session]) -> None:
    with two_huts() as db:
        pairs = [("hut-a", "s1"), ("hut-b", "s2"), ("hut-a", "nope"), ("nowhere", "s1")]
        found = {(d.hut_id, d.key) for d in q.doors(db, pairs)}
        assert found == {("hut-a", "s1"), ("hut-b", "s2")}
        assert list(q.doors(db, [])) == []


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def test_a_batch_preload_reads_no_whole_table_on_sqlite(
    db_url: str, engine: Engine, two_huts: sessionmaker[Session]
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the plan is SQLite's (PostgreSQL's depends on its statistics)")
    uid, tag = DEMO_MEMBERS[0][2], DEMO_ITEMS[0][0]
    keys = keys_of(cards=[uid], tags=[tag], doors=[("hut-a", "s1"), ("hut-b", "s2")])
    with two_huts() as db, _statements(engine) as seen:
        loader = Snapshots(db, EffectWriter(db))
        loader.preload(keys)
    plans = _plans(engine, seen)
    assert len(plans) >= 4, plans  # cards, open loans by category, items' rows, doors
    _assert_index_searches(plans)


def _plans(engine: Engine, seen: list[tuple[str, Any]]) -> dict[str, list[str]]:
    """SQLite's plan of each read of ``seen`` (its INSERTs aside), a step a line."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        return {
            sql: [row[3] for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            for sql, params in seen
            if not sql.lstrip().startswith("INSERT")
        }
    finally:
        raw.close()


def _assert_index_searches(plans: dict[str, list[str]]) -> None:
    for sql, plan in plans.items():
        assert not _scans(plan), f"{sql}\n{plan}"
        # A member's loans are counted among those still out, not through their history.
        assert not [step for step in plan if "INDEX ix_loans_member_id " in step], sql


# The configuration the policy is read from: a few rows each, read whole once a batch.
_CONFIGURATION = ("categories", "member_flag_rules")


def _scans(plan: list[str]) -> list[str]:
    """The steps of ``plan`` that read a whole table (a list of constants, a JSON array
    or a configuration table aside)."""
    return [
        step
        for step in plan
        if step.startswith("SCAN")
        and "VIRTUAL TABLE" not in step
        and "CONSTANT ROWS" not in step
        and step.split()[1] not in _CONFIGURATION
    ]


def _visit(hut: str, first_seq: int, key: str) -> list[AnyEvent]:
    uid, tag = DEMO_MEMBERS[0][2], DEMO_ITEMS[0][0]
    return [
        factories.card(hut, first_seq, uid, session=key),
        factories.door(hut, first_seq + 1, session=key),
        factories.scan(hut, first_seq + 2, tag, uid, session=key),  # borrowed
        factories.scan(hut, first_seq + 3, tag, uid, session=key),  # and back
        factories.door(hut, first_seq + 4, state=DoorState.CLOSED, session=key),
    ]


def test_applying_visits_reads_no_whole_table_on_sqlite(
    db_url: str, engine: Engine, two_huts: sessionmaker[Session]
) -> None:
    """Both paths: a batch big enough for the preload, and events one at a time."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the plan is SQLite's (PostgreSQL's depends on its statistics)")
    batch = _visit("hut-a", 1, "v1") + _visit("hut-a", 6, "v2")
    assert len(batch) >= PRELOAD_FROM
    with _statements(engine) as seen:
        with two_huts.begin() as db:
            huts = queries.get_huts(db, ["hut-a", "hut-b"])
            result = apply_batch(db, batch, huts=huts, received_at=T0)
            assert result.acks["hut-a"][-1].outcome is Outcome.APPLIED
        for event in _visit("hut-b", 1, "v3"):
            with two_huts.begin() as db:
                huts = queries.get_huts(db, ["hut-b"])
                result = apply_batch(db, [event], huts=huts, received_at=T0)
                assert result.acks["hut-b"][-1].outcome is Outcome.APPLIED
    plans = _plans(engine, seen)
    assert len(plans) >= 10, plans
    _assert_index_searches(plans)
