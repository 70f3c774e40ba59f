"""Proof under faults, the short run: five huts with their own gateway processes, two
server processes on PostgreSQL, a real Mosquitto with the generated ACLs (anonymous off,
every message sealed); the broker, a server and a gateway are SIGKILLed and restarted,
one gateway is cut off the network for minutes of its clock, one serial link is noisy.
Nothing is lost, nothing applied twice, and the ledger equals a replay of the event log.
``bench/fault_run.py`` is the long run (10,000 events)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fault_run import FaultRun
from tests.support.services import fresh_postgres_schema

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def two_schemas(postgres_url: str) -> Iterator[tuple[str, str]]:
    with fresh_postgres_schema(postgres_url) as live, fresh_postgres_schema(postgres_url) as again:
        yield live, again


def test_nothing_is_lost_or_doubled_under_faults(
    tmp_path: Path, topic_prefix: str, two_schemas: tuple[str, str]
) -> None:
    live, again = two_schemas
    run = FaultRun(
        seed=10,
        events=600,
        huts=5,
        workdir=tmp_path,
        db_url=live,
        replay_url=again,
        prefix=topic_prefix,
        cut_clock_s=120.0,
        say=print,
    )
    report = run.run()
    print("\n".join(["fault run:", *report.faults, report.counts.line(), f"{report.wall_s:.0f} s"]))
    assert report.problems == []
    counts = report.counts
    # Every fault did happen, and the counts add up.
    assert len(report.faults) == 8, report.faults
    assert counts.applied + counts.rejected == counts.sent >= counts.driven >= 600
    assert counts.noise_bytes > 0
    assert report.cut_clock_span_s >= 120.0
