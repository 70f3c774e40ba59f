"""deploy/grafana-dashboard.json: valid JSON, and every query names a metric the server
really exposes (read from the server's own registry) or one the gateway's metrics
announce."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.metrics import ServerMetrics
from server.storage import make_engine, make_sessionmaker, migrate

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"

# The gateway's metrics, on its own local port (hut_gateway, its metrics work): the
# names the dashboard reads of it.
GATEWAY_METRICS = frozenset({"toolhut_gateway_outbox_depth"})
# The samples a family of each type exposes, as PromQL names them.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
METRIC = re.compile(r"\btoolhut_[a-z0-9_]+\b")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def server_metrics(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """Every sample name the server's registry can expose, its scrape-time gauges too."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard')}/metrics.sqlite3"
    migrate(url)
    engine = make_engine(url)
    try:
        registry = ServerMetrics(sessions=make_sessionmaker(engine)).registry
        return frozenset(
            family.name + suffix
            for family in registry.collect()
            for suffix in SUFFIXES[family.type]
        )
    finally:
        engine.dispose()


def expressions(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found.append(query["query"])
    return found


def test_every_query_names_a_metric_that_exists(
    dashboard: dict[str, Any], server_metrics: frozenset[str]
) -> None:
    named = {name for expr in expressions(dashboard) for name in METRIC.findall(expr)}
    unknown = named - server_metrics - GATEWAY_METRICS
    assert not unknown, f"the dashboard reads metrics nobody exposes: {sorted(unknown)}"


def test_the_dashboard_shows_what_operators_need(
    dashboard: dict[str, Any], server_metrics: frozenset[str]
) -> None:
    named = {name for expr in expressions(dashboard) for name in METRIC.findall(expr)}
    for needed in (
        "toolhut_ingest_events_total",  # ingest rate by outcome
        "toolhut_ingest_lag_seconds_bucket",  # lag p99 per hut
        "toolhut_ingest_dead_letters_total",
        "toolhut_huts_online",
        "toolhut_alarms_open",
        "toolhut_reminder_deliveries_sent_total",
        "toolhut_reminder_deliveries_failed_total",
        "toolhut_gateway_outbox_depth",
    ):
        assert needed in named, needed
    assert "toolhut_ingest_events_total" in server_metrics  # the check above can fail


def test_panels_are_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36
