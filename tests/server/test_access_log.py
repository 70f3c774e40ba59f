"""The server's request log names routes, never a request's own path or query: a card UID,
a name or a phone in a URL stays out of the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.seed import seed_demo
from server.settings import ServerSettings
from tests.support.staff_auth import staff_headers

from .conftest import MovableClock


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as db:
        seed_demo(db)
    app = create_app(ServerSettings(), clock=clock, engine=engine, sessions=sessions)
    with TestClient(app, headers=staff_headers(sessions, Role.STAFF)) as test_client:
        yield test_client


def test_the_log_names_the_route_not_the_card_or_the_name(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="toolhut.http"):
        assert client.post("/api/v1/cards/04A1B2C3/lost").status_code == 200
        assert client.get("/api/v1/members", params={"q": "张阿姨"}).status_code == 200
        assert client.get("/api/v1/members", params={"q": "13812345678"}).status_code == 200
        assert client.get("/nowhere/04D5E6F7").status_code == 404
        assert client.get("/static/site/site.css").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "toolhut.http"]
    assert len(lines) == 5, lines
    assert lines[0].startswith("POST /api/v1/cards/{uid}/lost 200 ")
    assert lines[1].startswith("GET /api/v1/members 200 ")
    assert lines[3].startswith("GET (no route) 404 ")
    assert lines[4].startswith("GET /static/site/… 200 ")
    text = "\n".join(r.getMessage() for r in caplog.records)
    for personal in ("04A1B2C3", "张阿姨", "%E5%BC%A0", "13812345678", "04D5E6F7"):
        assert personal not in text
