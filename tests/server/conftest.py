"""Database fixtures for the server tests: a SQLite file and a PostgreSQL schema per test.

The broker, topic prefix and PostgreSQL database come from tests/conftest.py (which
falls back to a broker of its own and skips PostgreSQL loudly when it is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.ingest import IngestWorker
from server.metrics import ServerMetrics
from server.settings import ServerSettings
from server.storage import make_engine, make_sessionmaker, migrate
from tests.support.gateway_link import FakeGatewayLink, clear_retained
from tests.support.keys import TestKeys
from tests.support.services import Broker, fresh_postgres_schema
from tests.support.staff_auth import staff_headers
from toolhut.contract import Topics

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class MovableClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """An empty database: a SQLite file, or a new schema in the session's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/toolhut.sqlite3"
        return
    database = request.getfixturevalue("postgres_url")  # one per session; skips loudly
    with fresh_postgres_schema(database) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def staff(sessions: sessionmaker[Session]) -> dict[str, str]:
    """The headers of a new account of the staff role (its personal API token)."""
    return staff_headers(sessions, Role.STAFF)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
def mqtt_url(broker: Broker) -> str:
    return broker.url


INGEST_TIMEOUT = 20.0


@pytest.fixture
def settings(mqtt_url: str, topic_prefix: str) -> Iterator[ServerSettings]:
    """A server's settings on the test broker; the demo hut's retained list cleared after."""
    settings = ServerSettings(mqtt_url=mqtt_url, topic_prefix=topic_prefix)
    yield settings
    clear_retained(mqtt_url, settings.topics.allowlist("demo-hut"))


@contextmanager
def running_ingest(
    settings: ServerSettings,
    *,
    sessions: sessionmaker[Session],
    keys: TestKeys,
    clock: MovableClock,
    metrics: ServerMetrics | None = None,
) -> Iterator[IngestWorker]:
    """An ingest worker on the real broker with this test's keys, connected and subscribed,
    stopped after."""
    worker = IngestWorker(
        settings, sessions=sessions, keyring=keys.keyring, clock=clock, metrics=metrics
    )
    worker.start()
    try:
        assert worker.wait_connected(INGEST_TIMEOUT), "ingest worker did not connect"
        # Not before its SUBACK: an event published earlier reaches nobody (seen on a
        # slow machine: the test's first event was never acked).
        assert worker.wait_subscribed(INGEST_TIMEOUT), "ingest worker did not subscribe"
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def gateway(mqtt_url: str, topic_prefix: str, keys: TestKeys) -> Iterator[FakeGatewayLink]:
    """A hut's side of the wire, sealing with this test's keys."""
    link = FakeGatewayLink(mqtt_url, Topics(topic_prefix), keys.keyring)
    yield link
    link.close()


@pytest.fixture
def roles(sessions: sessionmaker[Session]) -> dict[Role, dict[str, str]]:
    """API headers of a new account of each role."""
    return {role: staff_headers(sessions, role) for role in Role}
