"""Fixtures shared by every test folder: a real broker, a real PostgreSQL when there is
one, and a unique topic prefix per test so runs sharing one broker never collide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import chromium  # noqa: F401 (a fixture for every test)
from tests.support.keys import TestKeys
from tests.support.services import (
    Broker,
    fresh_postgres_database,
    mqtt_broker,
    postgres_admin_url,
    unique_prefix,
)

_SKIPPED_SERVICES: list[str] = []


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    with mqtt_broker() as b:
        yield b


@pytest.fixture
def topic_prefix() -> str:
    return unique_prefix()


@pytest.fixture
def keys(tmp_path: Path) -> TestKeys:
    """A server secret of this test's own, and the hut keys and files derived from it."""
    return TestKeys(tmp_path / "keys")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = postgres_admin_url()
    if admin is None:
        reason = (
            "PostgreSQL not reachable (start it or set TOOLHUT_TEST_POSTGRES): "
            "PostgreSQL tests skipped"
        )
        _SKIPPED_SERVICES.append(reason)
        pytest.skip(reason)
    with fresh_postgres_database(admin) as url:
        yield url


def pytest_report_header(config: pytest.Config) -> list[str]:
    from tests.support.services import MACHINE_BROKER, MACHINE_POSTGRES
    from toolhut.mqtt import MqttEndpoint

    if MACHINE_BROKER == "embedded":
        mqtt = "embedded amqtt broker, as asked"
    elif MqttEndpoint.parse(MACHINE_BROKER).reachable():
        mqtt = "reachable, used"
    else:
        mqtt = "NOT reachable: the tests start their own broker"
    pg = "reachable" if postgres_admin_url() else "NOT reachable: PostgreSQL tests will be skipped"
    return [f"toolhut: MQTT {MACHINE_BROKER} -> {mqtt}; PostgreSQL {MACHINE_POSTGRES} -> {pg}"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in dict.fromkeys(_SKIPPED_SERVICES):
        terminalreporter.write_line(f"SKIPPED SERVICE: {reason}", yellow=True, bold=True)
