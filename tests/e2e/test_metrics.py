"""/metrics of a real ``toolhut server`` process, scraped as Prometheus does (a viewer's API
token): it parses with Prometheus's own text parser, and its counters move with the events
a real gateway sends from the emulator."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.domain.roles import Role
from server.storage import make_engine, make_sessionmaker
from tests.support.hut_stack import HUT, ZHANG, HutStack, hut_stack
from tests.support.processes import poll_until
from tests.support.staff_auth import staff_headers

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(stack: HutStack, headers: dict[str, str] | None) -> Samples:
    request = urllib.request.Request(f"{stack.base}/metrics", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        body = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_metrics_endpoint_parses_and_its_counters_move_with_the_events_sent(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix) as stack:
        engine = make_engine(stack.db_url)
        try:
            viewer = staff_headers(make_sessionmaker(engine), Role.VIEWER)  # Prometheus's
        finally:
            engine.dispose()
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(stack, None)
        assert refused.value.code == 401

        stack.wait_all_delivered()  # the controller's hello, from the start
        before, stored_before = scrape(stack, viewer), len(stack.applied_seqs())
        assert get(before, "toolhut_huts") == 1
        assert get(before, "toolhut_scrape_database_up") == 1
        assert get(before, "toolhut_allowlists_published_total") >= 1  # on connecting

        emulator = stack.emulator
        assert emulator is not None
        emulator.send(f"card {ZHANG}")
        emulator.expect(r"^recv unlock")
        emulator.send("door open")
        emulator.send("scan T0001")
        emulator.expect(r"^recv feedback beep=ok")
        emulator.send("door close")
        stack.wait_all_delivered()
        new = len(stack.applied_seqs()) - stored_before
        assert new >= 4  # card, door open, scan, door close

        def moved() -> Samples | None:
            after = scrape(stack, viewer)
            lag = "toolhut_ingest_lag_seconds_count"
            stored = get(after, lag, hut=HUT) - get(before, lag, hut=HUT)
            return after if stored >= new else None

        after = poll_until(moved, timeout=20, what="the lag histogram to count the events")

        def delta(name: str, **labels: str) -> float:
            return get(after, name, **labels) - get(before, name, **labels)

        # Each new event was acked applied or rejected once (resends are duplicates);
        # every message the gateway sent was taken, and its acks came back in AckBatches.
        events = "toolhut_ingest_events_total"
        assert delta(events, outcome="applied") + delta(events, outcome="rejected") == new
        assert delta("toolhut_ingest_messages_total") >= new
        assert delta("toolhut_ingest_ack_messages_total") >= 1
        assert delta("toolhut_ingest_lag_seconds_count", hut=HUT) == new
        assert get(after, "toolhut_ingest_dead_letters_total", reason="seal") == 0
