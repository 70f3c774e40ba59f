"""The monthly reports' API: build one (staff), list the kept ones, fetch a file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.settings import ServerSettings
from tests.server.reports import month_ledger as ledger
from tests.server.reports.pdf_readback import pdf_text

from .conftest import MovableClock


@pytest.fixture
def client(engine: Engine, clock: MovableClock) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(), clock=clock, engine=engine)) as found:
        yield found


def test_build_list_and_fetch(
    client: TestClient, sessions: sessionmaker[Session], roles: dict[Role, dict[str, str]]
) -> None:
    ledger.build(sessions)
    staff = roles[Role.STAFF]
    built = client.post(
        "/api/v1/reports", json={"month": "2026-11", "hut": "demo-hut"}, headers=staff
    )
    assert built.status_code == 201, built.text
    records = built.json()
    assert sorted(r["language"] for r in records) == ["en", "zh_CN"]
    listed = client.get("/api/v1/reports", headers=roles[Role.STAFF]).json()
    assert listed["total"] == 2 and {r["month"] for r in listed["data"]} == {"2026-11"}
    zh = next(r for r in records if r["language"] == "zh_CN")
    pdf = client.get(zh["pdf_url"], headers=staff)
    assert pdf.status_code == 200 and "共享工具屋月度报告" in pdf_text(pdf.content)
    csv = client.get(zh["csv_url"], headers=staff)
    assert csv.headers["content-type"].startswith("text/csv") and b"loans,total,,,,5" in csv.content
    assert client.get("/api/v1/reports/9999/pdf", headers=staff).status_code == 404
    assert client.get(f"/api/v1/reports/{zh['id']}/exe", headers=staff).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"month": "2026-13"},
        {"month": "november"},
        {"month": "2026-11", "languages": ["fr"]},
        {"month": "2026-11", "languages": []},
        {"month": "2026-11", "extra": 1},
    ],
)
def test_bad_bodies_are_refused(
    client: TestClient, roles: dict[Role, dict[str, str]], body: dict[str, object]
) -> None:
    response = client.post("/api/v1/reports", json=body, headers=roles[Role.STAFF])
    assert response.status_code == 422


def test_unknown_hut_is_404_and_a_viewer_may_not(
    client: TestClient, sessions: sessionmaker[Session], roles: dict[Role, dict[str, str]]
) -> None:
    ledger.build(sessions)
    missing = client.post(
        "/api/v1/reports", json={"month": "2026-11", "hut": "nowhere"}, headers=roles[Role.STAFF]
    )
    assert missing.status_code == 404 and "没有这个工具屋" in missing.text
    viewer = roles[Role.VIEWER]
    assert client.get("/api/v1/reports", headers=viewer).status_code == 403
    assert (
        client.post("/api/v1/reports", json={"month": "2026-11"}, headers=viewer).status_code == 403
    )
