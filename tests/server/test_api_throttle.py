"""Wrong API tokens from one address are throttled (429 with Retry-After), for that
address only, on the app's clock: the test moves it, it never sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.api.throttle import TEXT_THROTTLED, FailureThrottle
from server.app import ServerRuntime, create_app
from server.settings import ServerSettings

from .conftest import T0, MovableClock

WRONG = {"Authorization": "Bearer thk_not-a-token-of-anyone"}


@pytest.fixture
def app(engine: Engine, clock: MovableClock) -> FastAPI:
    return create_app(ServerSettings(), clock=clock, engine=engine)


@pytest.fixture
def client_at(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    clients: list[TestClient] = []

    def at(address: str) -> TestClient:
        client = TestClient(app, client=(address, 40000))
        clients.append(client)
        return client

    yield at
    for client in clients:
        client.close()


def test_ten_wrong_tokens_in_a_minute_throttle_that_address_only(
    client_at: Callable[[str], TestClient], clock: MovableClock, staff: dict[str, str]
) -> None:
    attacker, neighbour = client_at("203.0.113.7"), client_at("198.51.100.2")
    for _ in range(10):
        assert attacker.get("/api/v1/loans", headers=WRONG).status_code == 401
    refused = attacker.get("/api/v1/loans", headers=WRONG)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.json()["detail"] == TEXT_THROTTLED
    # Throttled before any comparison: the right token from there waits too.
    assert attacker.get("/api/v1/loans", headers=staff).status_code == 429
    assert attacker.get("/api/v1/loans").status_code == 200  # signed out still reads

    assert neighbour.get("/api/v1/loans", headers=staff).status_code == 200
    assert neighbour.get("/api/v1/loans", headers=WRONG).status_code == 401

    clock.advance(timedelta(seconds=45))
    assert attacker.get("/api/v1/loans", headers=WRONG).headers["Retry-After"] == "15"
    clock.advance(timedelta(seconds=15))
    assert attacker.get("/api/v1/loans", headers=staff).status_code == 200
    assert attacker.get("/api/v1/loans", headers=WRONG).status_code == 401


def test_only_failures_within_the_window_count() -> None:
    throttle = FailureThrottle(limit=3, window=timedelta(minutes=1))
    for second in (0, 21, 42):
        throttle.failed("a", now=T0 + timedelta(seconds=second))
    assert throttle.retry_after("a", now=T0 + timedelta(seconds=42)) == 18
    assert throttle.retry_after("a", now=T0 + timedelta(seconds=60)) is None  # first: 60 s old


def test_a_flood_of_addresses_keeps_a_bounded_table() -> None:
    throttle = FailureThrottle(limit=1, max_keys=100)
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", now=T0)
    assert throttle.retry_after("10.0.39.15", now=T0) == 60  # the newest are kept
    assert throttle.retry_after("10.0.0.0", now=T0) is None


@pytest.mark.parametrize("behind_proxy", [True, False])
def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, behind_proxy: bool
) -> None:
    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path}/proxy.sqlite3",
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
        forwarded_allow_ips="127.0.0.1" if behind_proxy else None,
    )
    runtime = ServerRuntime(settings)
    runtime.start()
    try:
        url = runtime.base_url + "/api/v1/loans"

        def wrong_from(client: str) -> int:
            headers = {**WRONG, "X-Forwarded-For": client}
            return httpx.get(url, headers=headers, timeout=10).status_code

        assert [wrong_from("203.0.113.7") for _ in range(11)] == [401] * 10 + [429]
        # Trusted, the header names another client; untrusted, it is the same one: us.
        assert wrong_from("198.51.100.2") == (401 if behind_proxy else 429)
    finally:
        runtime.stop()
