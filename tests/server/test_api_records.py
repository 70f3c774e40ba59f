"""The records routes (huts, categories and flag rules, items, supplies, stocktakes) for
every role: viewers read, staff write, admins create huts; refusals, 404, 409 stale, 428,
422 naming the field; every write audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.ledger import apply_event
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import access_changes
from server.storage.models import Hut, ItemStatusChange
from server.storage.staff_models import AuditEntry

from .conftest import T0, MovableClock
from .factories import scan

HOURS = {"week": {"mon": [["08:00", "20:00"]], "sat": [["09:00", "12:00"]]}}


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as db:
        seed_demo(db)
        hut = db.get(Hut, "demo-hut")
        assert hut is not None
        apply_event(db, scan("demo-hut", 1, "T0001"), hut=hut, received_at=T0)  # 张阿姨 borrows
    app = create_app(ServerSettings(), clock=clock, engine=engine, mqtt_connected=lambda: True)
    with TestClient(app) as test_client:
        yield test_client


def _audit(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _fields(response: object) -> list[str]:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    return [error["loc"][-1] for error in detail]


# Huts.


def test_huts_created_by_admins_edited_by_staff(
    client: TestClient, roles: dict[Role, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    body = {"id": "hut-2", "name": "二号工具屋", "contact_phone": "021-5555 0101"}
    assert client.post("/api/v1/huts", json=body).status_code == 401
    assert client.post("/api/v1/huts", json=body, headers=roles[Role.STAFF]).status_code == 403
    created = client.post("/api/v1/huts", json=body, headers=roles[Role.ADMIN])
    assert created.status_code == 201 and created.json()["version"] == 1
    again = client.post("/api/v1/huts", json=body, headers=roles[Role.ADMIN])
    assert again.status_code == 422 and _fields(again) == ["id"]

    public = client.get("/api/v1/huts/hut-2").json()
    # The hut's phone is for residents to call (the hut's, not a person's); its version is
    # for staff editing it.
    assert public["name"] == "二号工具屋" and public["contact_phone"] == "021-5555 0101"
    assert public["version"] is None
    read = client.get("/api/v1/huts/hut-2", headers=roles[Role.VIEWER])
    assert read.json()["contact_phone"] == "021-5555 0101" and read.headers["etag"] == '"1"'

    edit = {"name": "幸福里二号工具屋", "opening_hours": HOURS}
    assert (
        client.patch("/api/v1/huts/hut-2", json=edit, headers=roles[Role.VIEWER]).status_code == 403
    )
    assert (
        client.patch("/api/v1/huts/hut-2", json=edit, headers=roles[Role.STAFF]).status_code == 428
    )
    changed = client.patch(
        "/api/v1/huts/hut-2", json=edit, headers={**roles[Role.STAFF], "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    hut = changed.json()
    assert hut["name"] == "幸福里二号工具屋" and hut["version"] == 2
    assert hut["opening_hours"]["tz"] == "Asia/Shanghai" and hut["opening_hours"]["week"]["mon"]
    stale = client.patch(
        "/api/v1/huts/hut-2", json={"name": "x", "version": 1}, headers=roles[Role.STAFF]
    )
    assert stale.status_code == 409 and stale.json()["detail"]["version"] == 2
    [update] = _audit(sessions, "hut.update")
    assert update.before["name"] == "二号工具屋" and update.after["name"] == "幸福里二号工具屋"
    assert client.get("/api/v1/huts/nope").status_code == 404
    missing = client.patch("/api/v1/huts/nope", json={"version": 1}, headers=roles[Role.STAFF])
    assert missing.status_code == 404


def test_bad_hut_fields_are_named(client: TestClient, roles: dict[Role, dict[str, str]]) -> None:
    bad = {
        "id": "Bad Id",
        "name": "",
        "timezone": "Mars/Olympus",
        "opening_hours": {"week": {"mon": [["20:00", "08:00"]]}},
    }
    response = client.post("/api/v1/huts", json=bad, headers=roles[Role.ADMIN])
    assert response.status_code == 422
    assert set(_fields(response)) >= {"id", "name", "timezone"}
    assert "opening_hours" in {error["loc"][1] for error in response.json()["detail"]}
    cleared = client.patch(
        "/api/v1/huts/demo-hut", json={"name": None, "version": 1}, headers=roles[Role.STAFF]
    )
    assert cleared.status_code == 422 and _fields(cleared) == ["name"]


def test_new_opening_hours_republish_the_allowlists(
    client: TestClient, roles: dict[Role, dict[str, str]]
) -> None:
    heard: list[int] = []
    stop = access_changes.listen(client.app.state.sessions, lambda: heard.append(1))  # type: ignore[attr-defined]
    try:
        edit = {"opening_hours": HOURS, "version": 1}
        client.patch("/api/v1/huts/demo-hut", json=edit, headers=roles[Role.STAFF])
        assert heard == [1]
        client.patch(
            "/api/v1/huts/demo-hut",
            json={"name": "新名字", "version": 2},
            headers=roles[Role.STAFF],
        )
        assert heard == [1]  # a name is not access
    finally:
        stop()


def test_a_second_seeded_hut_has_its_own_name(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
        seed_demo(db, hut_id="hut-2")
    with sessions() as db:
        first, second = db.get(Hut, "demo-hut"), db.get(Hut, "hut-2")
        assert first is not None and second is not None
        assert second.name == "hut-2 工具屋" and second.name != first.name
        assert second.address is None


# Categories and flag rules.


def test_categories_and_flag_rules(
    client: TestClient, roles: dict[Role, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    assert client.get("/api/v1/categories").status_code == 401
    listed = client.get("/api/v1/categories", headers=roles[Role.VIEWER]).json()
    assert "ladders" in [row["key"] for row in listed["data"]] and listed["total"] >= 6
    new = {
        "key": "garden",
        "name_zh": "园艺",
        "name_en": "Garden",
        "loan_days": 5,
        "max_renewals": 1,
        "max_per_member": 2,
        "hold_hours": 24,
    }
    assert (
        client.post("/api/v1/categories", json=new, headers=roles[Role.VIEWER]).status_code == 403
    )
    assert client.post("/api/v1/categories", json=new, headers=roles[Role.STAFF]).status_code == 201
    twice = client.post("/api/v1/categories", json=new, headers=roles[Role.STAFF])
    assert twice.status_code == 422 and _fields(twice) == ["key"]
    bad = client.patch(
        "/api/v1/categories/garden", json={"loan_days": 0, "version": 1}, headers=roles[Role.STAFF]
    )
    assert bad.status_code == 422 and _fields(bad) == ["loan_days"]
    edited = client.patch(
        "/api/v1/categories/garden", json={"loan_days": 9, "version": 1}, headers=roles[Role.STAFF]
    )
    assert edited.json()["loan_days"] == 9 and edited.headers["etag"] == '"2"'
    stale = client.patch(
        "/api/v1/categories/garden", json={"loan_days": 3, "version": 1}, headers=roles[Role.STAFF]
    )
    assert stale.status_code == 409
    assert client.get("/api/v1/categories/nope", headers=roles[Role.VIEWER]).status_code == 404

    rules = [{"flag": "senior", "extra_loan_days": 4}]
    assert (
        client.put("/api/v1/flag-rules", json=rules, headers=roles[Role.VIEWER]).status_code == 403
    )
    put = client.put("/api/v1/flag-rules", json=rules, headers=roles[Role.STAFF])
    assert put.json()["data"] == rules
    twice_flag = client.put("/api/v1/flag-rules", json=rules * 2, headers=roles[Role.STAFF])
    assert twice_flag.status_code == 422 and _fields(twice_flag) == ["flag"]
    assert client.get("/api/v1/flag-rules", headers=roles[Role.VIEWER]).json()["data"] == rules

    from server.storage.policy_store import load_policy

    with sessions() as db:
        policy = load_policy(db)
    assert policy.rule("garden").loan_period.days == 9
    assert len(_audit(sessions, "flag_rules.replace")) == 1


# Items.


ITEM = {
    "tag": "t0100",
    "name_zh": "电锯",
    "name_en": "Chainsaw",
    "category": "power_tools",
    "hut": "demo-hut",
    "owner": "街道体育协会",
}


def test_items_created_edited_and_read(
    client: TestClient, roles: dict[Role, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    assert client.post("/api/v1/items", json=ITEM, headers=roles[Role.VIEWER]).status_code == 403
    created = client.post("/api/v1/items", json=ITEM, headers=roles[Role.STAFF])
    assert created.status_code == 201, created.text
    assert created.json()["tag"] == "T0100" and created.json()["owner"] == "街道体育协会"
    again = client.post("/api/v1/items", json=ITEM, headers=roles[Role.STAFF])
    assert again.status_code == 422 and _fields(again) == ["tag"]
    supply_tag = client.post(
        "/api/v1/items", json={**ITEM, "tag": "C0001"}, headers=roles[Role.STAFF]
    )
    assert supply_tag.status_code == 422 and _fields(supply_tag) == ["tag"]
    nowhere = {**ITEM, "tag": "T0101", "hut": "nope", "category": "nope"}
    refused = client.post("/api/v1/items", json=nowhere, headers=roles[Role.STAFF])
    assert refused.status_code == 422 and sorted(_fields(refused)) == ["category", "hut"]

    edit = {"notes": "链条已换", "loan_days": 2, "version": 1}
    assert (
        client.patch("/api/v1/items/T0100", json=edit, headers=roles[Role.VIEWER]).status_code
        == 403
    )
    edited = client.patch("/api/v1/items/T0100", json=edit, headers=roles[Role.STAFF]).json()
    assert edited["notes"] == "链条已换" and edited["loan_days"] == 2 and edited["version"] == 2
    assert (
        client.patch("/api/v1/items/T0100", json=edit, headers=roles[Role.STAFF]).status_code == 409
    )
    no_version = client.patch("/api/v1/items/T0100", json={"notes": "x"}, headers=roles[Role.STAFF])
    assert no_version.status_code == 428
    moved = client.patch(
        "/api/v1/items/T0100", json={"hut": "nope", "version": 2}, headers=roles[Role.STAFF]
    )
    assert moved.status_code == 422 and _fields(moved) == ["hut"]
    assert client.get("/api/v1/items/T9999").status_code == 404
    assert [e.entity_id for e in _audit(sessions, "item.create")] == ["T0100"]

    public = client.get("/api/v1/items/T0001").json()
    assert public["status"] == "on_loan" and public["borrower"] is None and "loans" not in public
    staff = client.get("/api/v1/items/T0001", headers=roles[Role.VIEWER]).json()
    assert staff["borrower"]["name"] == "张阿姨" and staff["loan_id"] is not None
    assert [loan["member"]["name"] for loan in staff["loans"]] == ["张阿姨"]


def test_the_item_list_searches_sorts_and_pages(client: TestClient) -> None:
    old = client.get("/api/v1/items", params={"hut": "demo-hut"}).json()
    assert old["count"] == 10 and old["total"] == 10 and old["offset"] == 0
    found = client.get("/api/v1/items", params={"q": "drill"}).json()
    assert [item["tag"] for item in found["data"]] == ["T0001", "T0002"]
    assert client.get("/api/v1/items", params={"q": "梯"}).json()["data"][0]["tag"] == "T0003"
    fitness = client.get("/api/v1/items", params={"category": "fitness", "sort": "-tag"}).json()
    assert [item["tag"] for item in fitness["data"]] == ["T0006", "T0005"]
    page = client.get("/api/v1/items", params={"limit": 3, "offset": 3}).json()
    assert [item["tag"] for item in page["data"]] == ["T0004", "T0005", "T0006"]
    assert page["total"] == 10 and page["count"] == 3
    bad = client.get("/api/v1/items", params={"sort": "owner"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sort"]
    assert client.get("/api/v1/items", params={"q": "%"}).json()["total"] == 0


def test_item_status_through_the_rule_book(
    client: TestClient, roles: dict[Role, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    staff = roles[Role.STAFF]
    body = {"status": "maintenance", "reason": "电池鼓包"}
    assert client.post("/api/v1/items/T0002/status", json=body).status_code == 401
    assert (
        client.post("/api/v1/items/T0002/status", json=body, headers=roles[Role.VIEWER]).status_code
        == 403
    )
    repaired = client.post("/api/v1/items/T0002/status", json=body, headers=staff)
    assert repaired.status_code == 200 and repaired.json()["status"] == "maintenance"
    assert repaired.json()["status_reason"] == "电池鼓包"
    same = client.post("/api/v1/items/T0002/status", json=body, headers=staff)
    assert same.status_code == 409 and same.json()["detail"]["reason"] == "status_unchanged"
    back = client.post(
        "/api/v1/items/T0002/status",
        json={"status": "available", "reason": "换了电池"},
        headers=staff,
    ).json()
    assert back["status"] == "available" and back["condition"] == "ok"
    assert [h["to_status"] for h in back["history"]] == ["available", "maintenance"]

    on_loan = client.post(
        "/api/v1/items/T0001/status", json={"status": "retired", "reason": "旧了"}, headers=staff
    )
    assert on_loan.status_code == 409
    assert on_loan.json()["detail"]["reason"] == "item_on_loan"
    assert "lost" in on_loan.json()["detail"]["text"]
    no_reason = client.post("/api/v1/items/T0002/status", json={"status": "lost"}, headers=staff)
    assert no_reason.status_code == 422 and _fields(no_reason) == ["reason"]
    not_settable = client.post(
        "/api/v1/items/T0002/status", json={"status": "on_loan", "reason": "x"}, headers=staff
    )
    assert not_settable.status_code == 422 and _fields(not_settable) == ["status"]
    missing = client.post("/api/v1/items/T9999/status", json=body, headers=staff)
    assert missing.status_code == 404
    lost = client.post(
        "/api/v1/items/T0003/status", json={"status": "lost", "reason": "盘点未见"}, headers=staff
    )
    found = client.post(
        "/api/v1/items/T0003/status",
        json={"status": "available", "reason": "找到了"},
        headers=staff,
    )
    assert lost.json()["status"] == "lost" and found.json()["status"] == "available"
    with sessions() as db:
        rows = db.scalars(select(ItemStatusChange).order_by(ItemStatusChange.id)).all()
        assert [(r.from_status, r.to_status) for r in rows][-2:] == [
            ("available", "lost"),
            ("lost", "available"),
        ]
        assert all(r.actor.startswith("staff-") for r in rows)
    assert len(_audit(sessions, "item.status")) == 4


# Supplies.


def test_supplies_created_edited_delivered_and_counted(
    client: TestClient, roles: dict[Role, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    staff = roles[Role.STAFF]
    body = {
        "tag": "C0100",
        "name_zh": "口罩",
        "name_en": "Masks",
        "category": "first_aid",
        "hut": "demo-hut",
        "min_quantity": 20,
    }
    assert client.post("/api/v1/supplies", json=body, headers=roles[Role.VIEWER]).status_code == 403
    created = client.post("/api/v1/supplies", json=body, headers=staff)
    assert created.status_code == 201 and created.json()["quantity"] == 0
    item_tag = client.post("/api/v1/supplies", json={**body, "tag": "T0001"}, headers=staff)
    assert item_tag.status_code == 422 and _fields(item_tag) == ["tag"]

    delivery = {"quantity": 50, "expires_on": "2028-01-31"}
    assert (
        client.post(
            "/api/v1/supplies/C0100/deliveries", json=delivery, headers=roles[Role.VIEWER]
        ).status_code
        == 403
    )
    batch = client.post("/api/v1/supplies/C0100/deliveries", json=delivery, headers=staff)
    assert batch.status_code == 201 and batch.json()["received_on"] == "2026-11-27"
    none = client.post("/api/v1/supplies/C0100/deliveries", json={"quantity": 0}, headers=staff)
    assert none.status_code == 422 and _fields(none) == ["quantity"]
    read = client.get("/api/v1/supplies/C0100", headers=roles[Role.VIEWER])
    assert read.json()["quantity"] == 50 and read.headers["etag"] == '"1"'
    assert client.get("/api/v1/supplies/C0100").status_code == 401

    batch_id = batch.json()["id"]
    counted = client.patch(
        f"/api/v1/supplies/C0100/batches/{batch_id}", json={"quantity": 47}, headers=staff
    )
    assert counted.json()["quantity"] == 47
    assert (
        client.patch(
            "/api/v1/supplies/C0001/batches/999999", json={"quantity": 1}, headers=staff
        ).status_code
        == 404
    )

    edit = {"min_quantity": 30, "notes": "夏季多备", "version": 1}
    edited = client.patch("/api/v1/supplies/C0100", json=edit, headers=staff)
    assert edited.json()["min_quantity"] == 30 and edited.json()["version"] == 2
    assert client.patch("/api/v1/supplies/C0100", json=edit, headers=staff).status_code == 409
    assert (
        client.patch("/api/v1/supplies/C0100", json={"notes": "x"}, headers=staff).status_code
        == 428
    )
    assert client.get("/api/v1/supplies/C9999", headers=staff).status_code == 404
    assert client.get("/api/v1/supplies/public").status_code == 200  # still the public list
    actions = {
        e.action for e in _audit(sessions, "supply.delivery") + _audit(sessions, "supply.count")
    }
    assert actions == {"supply.delivery", "supply.count"}


# Stocktakes.


def test_stocktakes_are_listed_newest_first(
    client: TestClient, roles: dict[Role, dict[str, str]], sessions: sessionmaker[Session]
) -> None:
    from datetime import timedelta

    from server.storage.models import DoorSession, Stocktake

    with sessions.begin() as db:
        for n in range(3):
            at = T0 + timedelta(hours=n)
            door = DoorSession(hut_id="demo-hut", key=f"st-{n}", mode="stocktake", started_at=at)
            db.add(door)
            db.flush()
            db.add(Stocktake(hut_id="demo-hut", door_session_id=door.id, started_at=at))
    assert client.get("/api/v1/stocktakes").status_code == 401
    listed = client.get("/api/v1/stocktakes", headers=roles[Role.VIEWER]).json()
    assert listed["total"] == 3
    times = [row["started_at"] for row in listed["data"]]
    assert times == sorted(times, reverse=True)
    first = listed["data"][0]["id"]
    assert isinstance(first, int)
    other = client.get("/api/v1/stocktakes", params={"hut": "hut-2"}, headers=roles[Role.VIEWER])
    assert other.json()["total"] == 0
