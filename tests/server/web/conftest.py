"""The console's pages through a TestClient, on SQLite and PostgreSQL (the database
fixtures of tests/server/conftest.py): accounts of each role, signed in by the sign-in page."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.seed import seed_demo
from server.settings import ServerSettings
from tests.server.conftest import MovableClock
from tests.server.web.resident_phone import LI, ZHANG, DemoHut
from tests.support.console import Console
from tests.support.staff_auth import new_user


@pytest.fixture
def app(engine: object, clock: MovableClock) -> FastAPI:
    return create_app(ServerSettings(), clock=clock, engine=engine)  # type: ignore[arg-type]


@pytest.fixture
def browser(app: FastAPI) -> Iterator[Callable[[], Console]]:
    """A new browser each call, none signed in."""
    clients: list[TestClient] = []

    def new() -> Console:
        client = TestClient(app, client=("192.0.2.10", 40000))
        clients.append(client)
        return Console(client)

    yield new
    for client in clients:
        client.close()


@pytest.fixture
def signed_in(
    browser: Callable[[], Console], sessions: sessionmaker[Session]
) -> Callable[[Role], Console]:
    """A browser signed in as a new account of the role asked for."""

    def sign_in(role: Role = Role.STAFF) -> Console:
        with sessions.begin() as db:
            username = new_user(db, role).username
        console = browser()
        response = console.sign_in(username)
        assert response.status_code == 303, response.text
        return console

    return sign_in


@pytest.fixture
def hut(sessions: sessionmaker[Session], clock: MovableClock) -> DemoHut:
    """The demo hut; 张阿姨 has borrowed the drill (T0001), 李师傅 the ladder (T0003)."""
    with sessions.begin() as db:
        seed_demo(db)
    demo = DemoHut(sessions, clock)
    demo.scan("T0001", ZHANG)
    demo.scan("T0003", LI)
    return demo
