"""schemathesis on the server's OpenAPI document, against the real app on SQLite and on
PostgreSQL, signed out and signed in: whatever a client sends, no answer is a server error
and every answer is what the document says.

Bounded for CI: a few derandomised examples per operation, positive and negative."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from server.app import create_app
from server.domain.roles import Role
from server.hut_state.config import HutStateSettings
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import make_engine, make_sessionmaker, migrate
from tests.support.services import fresh_postgres_schema
from tests.support.staff_auth import staff_headers
from toolhut.contract import Command

EXAMPLES = int(os.environ.get("TOOLHUT_API_FUZZ_EXAMPLES", "12"))


def _document() -> dict[str, Any]:
    """The OpenAPI document; building it touches no database."""
    app = create_app(ServerSettings(db_url="sqlite://"), engine=make_engine("sqlite://"))
    return app.openapi()


SCHEMA = schemathesis.openapi.from_dict(_document())
OPERATIONS: list[Any] = []
for _result in SCHEMA.get_all_operations():
    assert isinstance(_result, Ok), f"schemathesis cannot read an operation: {_result}"
    OPERATIONS.append(_result.ok())


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One seeded database per kind for the whole module: what one example changes (a loan
    renewed, an item written off) the next ones meet, as on a real server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api-fuzz') / 'toolhut.sqlite3'}"
        _prepare(url)
        yield url
        return
    with fresh_postgres_schema(request.getfixturevalue("postgres_url")) as url:
        _prepare(url)
        yield url


def _prepare(url: str) -> None:
    migrate(url)
    engine = make_engine(url)
    try:
        seed_demo(engine)
    finally:
        engine.dispose()


def _broker_takes(command: Command) -> None:
    """A broker that takes every command: the huts reachable, as the app's broker flag says
    (without one, a command's 503 is the server's true answer, not a client's doing; that
    answer is tested in test_api_commands and test_api_enrol)."""


@pytest.fixture(scope="module")
def api_app(fuzz_db_url: str) -> Iterator[FastAPI]:
    engine = make_engine(fuzz_db_url)
    # The huts' live stream ends after stream_max_s: here soon, so each example gets its
    # whole answer (the snapshot) and the next one can go.
    settings = ServerSettings(db_url=fuzz_db_url, hut_state=HutStateSettings(stream_max_s=0.2))
    yield create_app(settings, engine=engine, mqtt_connected=lambda: True, commands=_broker_takes)
    engine.dispose()


@pytest.fixture
def staff_auth(fuzz_db_url: str) -> Iterator[dict[str, str]]:
    """What a signed-in admin's client sends: a new account per test, so what one
    operation does to accounts (a token revoked, an account disabled) leaves the next
    one signed in."""
    engine = make_engine(fuzz_db_url)
    try:
        yield staff_headers(make_sessionmaker(engine), Role.ADMIN)
    finally:
        engine.dispose()


def _fuzz(operation: Any, *, app: FastAPI, headers: dict[str, str]) -> None:
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases)
    def check(case: Any) -> None:
        case.call_and_validate(
            app=app, headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )

    check()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_signed_out_no_server_error(operation: Any, api_app: FastAPI) -> None:
    _fuzz(operation, app=api_app, headers={})


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_signed_in_no_server_error(
    operation: Any, api_app: FastAPI, staff_auth: dict[str, str]
) -> None:
    _fuzz(operation, app=api_app, headers=staff_auth)


def test_path_ids_beyond_int32_are_not_a_server_error(
    api_app: FastAPI, staff_auth: dict[str, str]
) -> None:
    with TestClient(api_app, raise_server_exceptions=False) as client:
        answers = {
            path: client.get(path, headers=staff_auth).status_code
            for big in (2**31, 2**70)
            for path in (f"/api/v1/stocktakes/{big}", f"/api/v1/members/{big}/reminders")
        }
    assert all(code < 500 for code in answers.values()), answers
