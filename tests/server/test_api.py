from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.ledger import apply_event
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Hut

from .conftest import T0, MovableClock
from .factories import scan


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as session:
        seed_demo(session)
        hut = session.get(Hut, "demo-hut")
        assert hut is not None
        # 张阿姨 borrows the drill (due in 3 days), 李师傅 the ladder (due in 1 day).
        apply_event(session, scan("demo-hut", 1, "T0001"), hut=hut, received_at=T0)
        apply_event(session, scan("demo-hut", 2, "T0003", card="04D5E6F7"), hut=hut, received_at=T0)
    settings = ServerSettings()
    app = create_app(settings, clock=clock, engine=engine, mqtt_connected=lambda: True)
    with TestClient(app) as test_client:
        yield test_client


def test_alive_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True, "migrations": True}


def test_huts(client: TestClient) -> None:
    body = client.get("/api/v1/huts").json()
    assert body["data"] == [
        {"id": "demo-hut", "name": "幸福里社区工具屋", "timezone": "Asia/Shanghai"}
    ]


def test_items_public_and_staff(client: TestClient, staff: dict[str, str]) -> None:
    public = client.get("/api/v1/items", params={"hut": "demo-hut", "status": "on_loan"}).json()
    assert [item["tag"] for item in public["data"]] == ["T0001", "T0003"]
    drill = public["data"][0]
    assert drill["name_zh"] == "电钻" and drill["name_en"] == "Power drill"
    assert drill["category"] == "power_tools" and drill["hut"] == "demo-hut"
    assert drill["due_at"] == "2026-11-30T02:00:00Z"
    assert drill["borrower"] is None

    staff = client.get("/api/v1/items", params={"status": "on_loan"}, headers=staff).json()
    borrower = staff["data"][0]["borrower"]
    assert (borrower["name"], borrower["building_unit"]) == ("张阿姨", "3-201")
    assert isinstance(borrower["member_id"], int)

    available = client.get("/api/v1/items", params={"status": "available"}).json()
    assert available["count"] == 8
    assert all(item["due_at"] is None for item in available["data"])


def test_a_wrong_token_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/loans", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_loans_open_and_overdue_follow_the_clock(
    client: TestClient, clock: MovableClock, staff: dict[str, str]
) -> None:
    assert client.get("/api/v1/loans").json()["count"] == 2
    assert client.get("/api/v1/loans", params={"status": "overdue"}).json()["count"] == 0

    clock.advance(timedelta(days=1, minutes=1))  # the ladder was due after one day
    overdue = client.get("/api/v1/loans", params={"status": "overdue"}, headers=staff).json()
    assert [(loan["tag"], loan["overdue"]) for loan in overdue["data"]] == [("T0003", True)]
    borrower = overdue["data"][0]["borrower"]
    assert (borrower["name"], borrower["building_unit"]) == ("李师傅", "5-502")
    # The member id staff need for remind-now, and the same loans by member and by hut.
    mine = client.get("/api/v1/loans", params={"member": borrower["member_id"]}, headers=staff)
    assert [loan["tag"] for loan in mine.json()["data"]] == ["T0003"]
    # One person's loans are personal data: not for anyone who is not signed in.
    anonymous = client.get("/api/v1/loans", params={"member": borrower["member_id"]})
    assert anonymous.status_code == 401
    at_hut = client.get("/api/v1/loans", params={"hut": "demo-hut", "sort": "-due_at"}).json()
    assert [loan["tag"] for loan in at_hut["data"]] == ["T0001", "T0003"]
    assert (at_hut["total"], at_hut["limit"], at_hut["offset"]) == (2, 50, 0)
    second = client.get("/api/v1/loans", params={"limit": 1, "offset": 1}).json()
    assert [loan["tag"] for loan in second["data"]] == ["T0001"] and second["total"] == 2
    public = client.get("/api/v1/loans", params={"status": "overdue"}).json()
    assert public["data"][0]["borrower"] is None

    clock.advance(timedelta(days=3))
    assert client.get("/api/v1/loans", params={"status": "overdue"}).json()["count"] == 2


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/items", {"status": "borrowed"}, "status"),
        ("/api/v1/items", {"hut": "Not A Hut!"}, "hut"),
        ("/api/v1/loans", {"status": "late"}, "status"),
        ("/api/v1/loans", {"sort": "name"}, "sort"),
        ("/api/v1/loans", {"member": "0"}, "member"),
    ],
)
def test_bad_query_values_are_422(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", field]
    assert detail["msg"]


def test_unknown_hut_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/items", params={"hut": "ghost"})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown hut 'ghost'"}


def test_item_page(client: TestClient) -> None:
    on_loan = client.get("/i/T0001")
    assert on_loan.status_code == 200
    assert on_loan.headers["content-type"].startswith("text/html")
    assert "电钻" in on_loan.text and "已借出" in on_loan.text
    assert "11月30日 10:00" in on_loan.text  # due date in Shanghai time
    assert "张阿姨" not in on_loan.text

    available = client.get("/i/t0005")
    assert "哑铃" in available.text and "可借用" in available.text

    missing = client.get("/i/T9999")
    assert missing.status_code == 404 and "未找到物品" in missing.text


def test_inventory_page_lists_every_item_without_borrowers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "幸福里社区工具屋" in page.text
    assert page.text.count('href="/i/T0') == 6  # the overview: each hut's first six items
    assert 'href="/?hut=demo-hut"' in page.text  # and a link to all of them
    whole = client.get("/?hut=demo-hut").text
    assert whole.count('href="/i/T0') == 10  # every seeded item links to its page
    assert "11月30日 10:00" in page.text  # the drill's due date, in Shanghai time
    assert "张阿姨" not in page.text and "李师傅" not in page.text


def test_pages_show_holds_repairs_and_condition_in_chinese_without_names(
    client: TestClient, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    from sqlalchemy import select

    from server import staff_actions
    from server.domain import ItemCondition, ItemStatus
    from server.storage.models import Item

    with sessions.begin() as session:
        staff_actions.reserve(session, tag="T0001", card="04D5E6F7", now=T0)  # 李师傅 waits
        hut = session.get(Hut, "demo-hut")
        assert hut is not None
        back = T0 + timedelta(hours=2)
        apply_event(session, scan("demo-hut", 3, "T0001", ts=back), hut=hut, received_at=back)
        dumbbells = session.scalars(select(Item).where(Item.tag == "T0005")).one()
        dumbbells.status = ItemStatus.MAINTENANCE
        dumbbells.condition = ItemCondition.NEEDS_REPAIR
        kit = session.scalars(select(Item).where(Item.tag == "T0004")).one()
        kit.condition = ItemCondition.MISSING_PART

    held = client.get("/i/T0001").text
    assert "已预留" in held and "已为排队预约的邻居保留，保留至 11月28日 12:00" in held
    assert "物品状况：完好" in held
    repair = client.get("/i/T0005").text
    assert "维修中" in repair and "工作人员检查或维修后恢复借用" in repair
    assert "物品状况：待维修" in repair and "请在工具屋刷卡后扫描此标签借用" not in repair
    assert "物品状况：缺少配件" in client.get("/i/T0004").text

    page = client.get("/").text
    assert "已预留" in page and "维修中" in page and "待维修" in page and "缺少配件" in page
    assert "11月28日 12:00" in page  # the hold's end, where a due date would be
    for name in ("张阿姨", "李师傅"):
        assert name not in page and name not in held
