"""``/healthz`` (the process answers) and ``/readyz`` (database, broker, migrations at head),
for orchestrators: public, and a failed readiness is a 503 naming what failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from server.app import create_app
from server.settings import ServerSettings
from server.storage import make_engine
from server.storage.migrate import head_revision

from .conftest import MovableClock

DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"


def client_of(engine: Engine, clock: MovableClock, *, broker: Callable[[], bool]) -> TestClient:
    app = create_app(ServerSettings(), clock=clock, engine=engine, mqtt_connected=broker)
    return TestClient(app)


@pytest.fixture
def dead_engine() -> Iterator[Engine]:
    engine = make_engine(DEAD_DATABASE)
    yield engine
    engine.dispose()


def test_ready_when_database_broker_and_schema_are(engine: Engine, clock: MovableClock) -> None:
    with client_of(engine, clock, broker=lambda: True) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {
        "ready": True,
        "checks": {"database": True, "broker": True, "migrations": True},
        "failed": [],
        "detail": None,
    }


def test_not_ready_without_the_broker(engine: Engine, clock: MovableClock) -> None:
    with client_of(engine, clock, broker=lambda: False) as client:
        assert client.get("/healthz").status_code == 200  # alive all the same
        answer = client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["failed"] == ["broker"]
    assert body["detail"] == (
        "服务器未就绪：未连接消息代理 / the server is not ready: not connected to the MQTT broker"
    )


def test_not_ready_on_a_schema_behind_this_code(engine: Engine, clock: MovableClock) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    try:
        with client_of(engine, clock, broker=lambda: True) as client:
            answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["failed"] == ["migrations"]
    finally:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()}
            )


def test_alive_without_a_database_and_not_ready(dead_engine: Engine, clock: MovableClock) -> None:
    """/healthz makes no database call: a database outage must not have every server
    restarted. /readyz says the database, and so the schema, cannot be checked."""
    with client_of(dead_engine, clock, broker=lambda: True) as client:
        alive = client.get("/healthz")
        ready = client.get("/readyz")
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
    assert ready.status_code == 503
    body = ready.json()
    assert body["failed"] == ["database", "migrations"]
    assert body["checks"]["broker"] is True
    assert "数据库无响应" in body["detail"] and "the database does not answer" in body["detail"]
