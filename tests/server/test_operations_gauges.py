"""Huts online and alarms open, read from the database at scrape time
(server.operations_gauges): right, cached, one reading for a storm of scrapes, and a
database that does not answer makes a gauge say so rather than fail the scrape."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from server.operations_gauges import CACHE_S, OperationsGauges
from server.seed import seed_demo
from server.storage import make_engine, make_sessionmaker
from server.storage.operations_models import Alarm, HutState

from .conftest import T0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def readings(gauges: OperationsGauges) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(gauges)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def furnish(sessions: sessionmaker[Session]) -> None:
    """Three huts: one online, one offline, one that never reported. Alarms: two forced
    opens (at two huts), a tamper open and one resolved."""
    with sessions.begin() as db:
        for hut in ("hut-a", "hut-b", "hut-c"):
            seed_demo(db, hut_id=hut)
        for hut, online in (("hut-a", True), ("hut-b", False)):
            db.add(HutState(hut_id=hut, online=online, since=T0, received_at=T0, changed_at=T0))
        for hut, kind, resolved in (
            ("hut-a", "forced_open", None),
            ("hut-b", "forced_open", None),
            ("hut-a", "tamper", None),
            ("hut-b", "tamper", T0 + timedelta(minutes=5)),
        ):
            db.add(
                Alarm(
                    hut_id=hut,
                    kind=kind,
                    source="controller",
                    raised_at=T0,
                    updated_at=T0,
                    resolved_at=resolved,
                )
            )


def test_huts_online_and_alarms_open_by_kind(sessions: sessionmaker[Session]) -> None:
    furnish(sessions)
    clock = FakeMonotonic()
    gauges = OperationsGauges(sessions, monotonic=clock)
    found = readings(gauges)
    assert found[("toolhut_huts", ())] == 3
    assert found[("toolhut_huts_reporting", ())] == 2
    assert found[("toolhut_huts_online", ())] == 1
    assert found[("toolhut_alarms_open", (("kind", "forced_open"),))] == 2
    assert found[("toolhut_alarms_open", (("kind", "tamper"),))] == 1
    assert found[("toolhut_scrape_database_up", ())] == 1

    with sessions.begin() as db:  # staff resolve every tamper
        db.execute(update(Alarm).where(Alarm.kind == "tamper").values(resolved_at=T0))
    assert readings(gauges)[("toolhut_alarms_open", (("kind", "tamper"),))] == 1  # cached
    clock.now += CACHE_S
    # A kind seen before reads 0 once none is open, rather than vanishing from the graph.
    assert readings(gauges)[("toolhut_alarms_open", (("kind", "tamper"),))] == 0
    assert gauges.reads == 2


def test_a_storm_of_scrapes_reads_the_database_once(sessions: sessionmaker[Session]) -> None:
    furnish(sessions)
    registry = CollectorRegistry()
    gauges = OperationsGauges(sessions, monotonic=FakeMonotonic())
    registry.register(gauges)
    assert gauges.reads == 0  # registering asks describe(), not the database
    start = threading.Barrier(16)
    bodies: list[bytes] = []

    def scrape() -> None:
        start.wait()
        bodies.append(generate_latest(registry))

    threads = [threading.Thread(target=scrape) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(bodies) == 16 and len(set(bodies)) == 1
    assert gauges.reads == 1


def test_a_database_that_does_not_answer_is_a_gauge_not_a_failed_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    clock = FakeMonotonic()
    gauges = OperationsGauges(make_sessionmaker(engine), monotonic=clock)
    try:
        with caplog.at_level(logging.WARNING, logger="server.operations_gauges"):
            for _ in range(3):
                found = readings(gauges)
                clock.now += CACHE_S
        assert found[("toolhut_scrape_database_up", ())] == 0
        assert ("toolhut_huts_online", ()) not in found  # no number rather than a wrong one
        assert caplog.text.count("cannot read huts and alarms") == 1  # once per outage
    finally:
        engine.dispose()
