"""Staff routes of the ledger: sessions, stocktakes, renew/lost, reservations, supplies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain import ItemStatus
from server.ledger import AnyEvent, apply_event
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import queries
from server.storage.models import Hut
from server.storage.staff_models import AuditEntry
from tests.support.staff_auth import staff_name
from toolhut.contract import DoorState

from .conftest import T0, MovableClock
from .factories import card, door, scan


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as session:
        seed_demo(session)
        hut = session.get(Hut, "demo-hut")
        assert hut is not None
        events: list[AnyEvent] = [
            # 张阿姨 opens the door, takes nothing: flagged.
            card("demo-hut", 1, session="s1"),
            door("demo-hut", 2, session="s1"),
            door("demo-hut", 3, state=DoorState.CLOSED, session="s1"),
            # 李师傅 borrows the drill.
            card("demo-hut", 4, "04D5E6F7", session="s2"),
            scan("demo-hut", 5, "T0001", card="04D5E6F7", session="s2"),
            door("demo-hut", 6, state=DoorState.CLOSED, session="s2"),
            # Staff stocktake: sees two items.
            card("demo-hut", 7, "04ABCDEF", session="s3"),
            scan("demo-hut", 8, "T0002", card="04ABCDEF", session="s3"),
            scan("demo-hut", 9, "T0003", card="04ABCDEF", session="s3"),
            door("demo-hut", 10, state=DoorState.CLOSED, session="s3"),
        ]
        for event in events:
            apply_event(session, event, hut=hut, received_at=T0)
    settings = ServerSettings()
    app = create_app(settings, clock=clock, engine=engine, mqtt_connected=lambda: True)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/sessions"),
        ("get", "/api/v1/stocktakes/1"),
        ("get", "/api/v1/supplies"),
        ("post", "/api/v1/loans/1/renew"),
        ("post", "/api/v1/loans/1/returned"),
        ("post", "/api/v1/items/T0001/clear"),
    ],
)
def test_staff_routes_need_the_token(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401


def test_sessions_flagged_unscanned(client: TestClient, staff: dict[str, str]) -> None:
    body = client.get("/api/v1/sessions", params={"flag": "unscanned"}, headers=staff).json()
    assert [(s["member"], s["scans"], s["flag"]) for s in body["data"]] == [
        ("张阿姨", 0, "unscanned")
    ]
    every = client.get("/api/v1/sessions", headers=staff).json()
    assert every["count"] == 3
    lent = next(s for s in every["data"] if s["key"] == "s2")
    scans = client.get(f"/api/v1/sessions/{lent['id']}/scans", headers=staff).json()
    assert [(s["tag"], s["action"]) for s in scans] == [("T0001", "borrow")]
    assert client.get("/api/v1/sessions", params={"flag": "odd"}, headers=staff).status_code == 422


def test_stocktake_report(client: TestClient, staff: dict[str, str]) -> None:
    stocktake_session = next(
        s for s in client.get("/api/v1/sessions", headers=staff).json()["data"] if s["key"] == "s3"
    )
    assert stocktake_session["mode"] == "stocktake"
    report = client.get("/api/v1/stocktakes/1", headers=staff).json()
    assert report["closed_at"] == "2026-11-27T02:00:00Z"
    assert report["unexpected"] == []
    assert "T0004" in report["missing"] and "T0002" not in report["missing"]
    assert "T0001" not in report["missing"]  # on loan, so not expected on the shelf
    assert client.get("/api/v1/stocktakes/99", headers=staff).status_code == 404


def test_renew_reserve_lost_and_clear(
    client: TestClient, sessions: sessionmaker[Session], staff: dict[str, str]
) -> None:
    loan = client.get("/api/v1/loans", headers=staff).json()["data"][0]
    renewed = client.post(f"/api/v1/loans/{loan['id']}/renew", headers=staff)
    assert renewed.status_code == 200 and renewed.json()["due_at"] == "2026-12-03T02:00:00Z"
    again = client.post(f"/api/v1/loans/{loan['id']}/renew", headers=staff)
    assert again.status_code == 409
    assert again.json()["detail"] == {"reason": "max_renewals", "text": "续借次数已满"}

    reserved = client.post(
        "/api/v1/items/T0001/reservations", json={"card": "04A1B2C3"}, headers=staff
    )
    assert reserved.status_code == 201 and reserved.json()["state"] == "waiting"
    on_shelf = client.post(
        "/api/v1/items/T0005/reservations", json={"card": "04A1B2C3"}, headers=staff
    )
    assert on_shelf.status_code == 409 and on_shelf.json()["detail"]["reason"] == "item_available"
    missing = client.post(
        "/api/v1/items/T9999/reservations", json={"card": "04A1B2C3"}, headers=staff
    )
    assert missing.status_code == 404

    lost = client.post(f"/api/v1/loans/{loan['id']}/lost", headers=staff)
    assert lost.status_code == 200
    drill = client.get("/api/v1/items", params={"status": "lost"}).json()["data"]
    assert [item["tag"] for item in drill] == ["T0001"]
    assert client.post(f"/api/v1/loans/{loan['id']}/lost", headers=staff).status_code == 409
    cleared = client.post("/api/v1/items/T0002/clear", headers=staff)
    assert cleared.status_code == 200 and cleared.json()["status"] == "available"

    # Each write that went through is in the audit log under the account that made it; the
    # refused ones are not.
    with sessions() as db:
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.entity_id) for e in entries] == [
        ("loan.renew", str(loan["id"])),
        ("reservation.add", str(reserved.json()["id"])),
        ("loan.lost", str(loan["id"])),
        ("item.clear", "T0002"),
    ]
    assert {e.actor for e in entries} == {staff_name(sessions, staff)}
    renew = entries[0]
    assert renew.before is not None and renew.after is not None
    assert (renew.before["renewals"], renew.after["renewals"]) == (0, 1)
    assert renew.after["due_at"].startswith("2026-12-03T02:00:00")
    assert entries[2].after is not None and entries[2].after["lost_at"] is not None


def test_supplies_and_alerts(client: TestClient, staff: dict[str, str]) -> None:
    every = client.get("/api/v1/supplies", headers=staff).json()
    assert [(s["tag"], s["quantity"]) for s in every["data"]] == [
        ("C0001", 35),
        ("C0002", 8),
        ("C0003", 4),
    ]
    restock = client.get("/api/v1/supplies", params={"alert": "restock"}, headers=staff).json()
    assert [s["tag"] for s in restock["data"]] == ["C0003"]
    soon = client.get("/api/v1/supplies", params={"alert": "expiring"}, headers=staff).json()
    assert [(s["tag"], s["expires_on"]) for s in soon["data"]] == [("C0001", "2026-12-15")]


def test_a_loan_marked_returned_frees_the_item_and_is_audited(
    client: TestClient, staff: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    loan = client.get("/api/v1/loans", headers=staff).json()["data"][0]
    back = client.post(f"/api/v1/loans/{loan['id']}/returned", headers=staff)
    assert back.status_code == 200
    assert client.get("/api/v1/loans", headers=staff).json()["total"] == 0
    drill = client.get("/api/v1/items", params={"q": loan["tag"]}).json()["data"][0]
    assert drill["status"] == "available" and drill["due_at"] is None
    again = client.post(f"/api/v1/loans/{loan['id']}/returned", headers=staff)
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "not_on_loan"
    with sessions() as db:
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "loan.returned")).all()
    assert [e.entity_id for e in entries] == [str(loan["id"])]


def test_item_page_shows_a_held_item(client: TestClient, sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        shelf = queries.find_item(session, "T0006")
        assert shelf is not None
        shelf.item.status = ItemStatus.RESERVED
    page = client.get("/i/T0006")
    assert page.status_code == 200 and "已预留" in page.text
