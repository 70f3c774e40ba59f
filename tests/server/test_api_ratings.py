"""The ratings through the staff API, on SQLite and PostgreSQL: the list with its filters
and pages, the summaries per hut and per item, bad filters named, and the roles (signed
in only: comments and names are the staff side's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.seed import seed_demo
from server.settings import ServerSettings

from .conftest import MovableClock
from .rating_setup import COMMENT, rate_some


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as db:
        seed_demo(db)
    rate_some(sessions)
    app = create_app(ServerSettings(), clock=clock, engine=engine, mqtt_connected=lambda: True)
    with TestClient(app) as test_client:
        yield test_client


def test_the_list_newest_first_with_names_and_comments(
    client: TestClient, roles: dict[Role, dict[str, str]]
) -> None:
    response = client.get("/api/v1/ratings", headers=roles[Role.VIEWER])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3
    rows = [(r["item"], r["member_name"], r["score"], r["source"]) for r in body["data"]]
    assert rows == [
        ("T0003", "张阿姨", 2, "phone"),
        ("T0007", "李师傅", 3, "hut"),
        ("T0001", "张阿姨", 5, "hut"),
    ]
    assert body["data"][0]["comment"] == COMMENT and body["data"][0]["item_name"] == "梯子"


@pytest.mark.parametrize(
    ("query", "items"),
    [
        ("hut=demo-hut", ["T0003", "T0007", "T0001"]),
        ("hut=hut-b", []),
        ("item=t0001", ["T0001"]),
        ("score=2", ["T0003"]),
        ("month=2026-11", ["T0003", "T0007", "T0001"]),
        ("month=2026-10", []),
        ("sort=score", ["T0003", "T0007", "T0001"]),
        ("sort=-score&limit=1&offset=1", ["T0007"]),
    ],
)
def test_the_filters_and_pages(
    client: TestClient, roles: dict[Role, dict[str, str]], query: str, items: list[str]
) -> None:
    response = client.get(f"/api/v1/ratings?{query}", headers=roles[Role.STAFF])
    assert response.status_code == 200, response.text
    assert [r["item"] for r in response.json()["data"]] == items


@pytest.mark.parametrize(
    ("query", "field"),
    [("score=6", "score"), ("month=2026-13", "month"), ("month=now", "month"), ("sort=x", "sort")],
)
def test_bad_filters_are_named(
    client: TestClient, roles: dict[Role, dict[str, str]], query: str, field: str
) -> None:
    response = client.get(f"/api/v1/ratings?{query}", headers=roles[Role.STAFF])
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


def test_an_unknown_item_is_a_404(client: TestClient, roles: dict[Role, dict[str, str]]) -> None:
    for path in ("/api/v1/ratings?item=T9999", "/api/v1/ratings/summary?item=T9999"):
        response = client.get(path, headers=roles[Role.STAFF])
        assert response.status_code == 404 and "T9999" in response.json()["detail"]


def test_the_summary_per_hut_and_per_item(
    client: TestClient, roles: dict[Role, dict[str, str]]
) -> None:
    response = client.get("/api/v1/ratings/summary", headers=roles[Role.VIEWER])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["count"], body["average"]) == (3, 3.33)
    assert body["spread"] == {"5": 1, "4": 0, "3": 1, "2": 1, "1": 0}
    assert [(h["id"], h["count"], h["low"]) for h in body["huts"]] == [("demo-hut", 3, 1)]
    assert [(i["tag"], i["average"]) for i in body["items"]] == [
        ("T0003", 2.0),
        ("T0007", 3.0),
        ("T0001", 5.0),
    ]
    one = client.get("/api/v1/ratings/summary?item=T0001", headers=roles[Role.VIEWER]).json()
    assert (one["count"], one["average"], len(one["items"])) == (1, 5.0, 1)


def test_signed_out_gets_nothing(client: TestClient) -> None:
    for path in ("/api/v1/ratings", "/api/v1/ratings/summary"):
        assert client.get(path).status_code == 401
