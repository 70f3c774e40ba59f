"""The console's inventory and item pages through a TestClient, on both databases:
filters, search, sort and pages of the list, bad query values as messages, the item page
with its history, staff's edit (and its version rule) and status forms, the label PDF, and
what a viewer may not do."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import ItemStatus
from server.domain.roles import Role
from server.storage.models import Hut, Item, ItemStatusChange, Loan, Member
from server.storage.staff_models import AuditEntry
from tests.server.conftest import T0
from tests.support.console import Console

Browser = Callable[[Role], Console]


@pytest.fixture
def stock(sessions: sessionmaker[Session]) -> None:
    """Two huts; a drill on loan to 王阿姨 (due in 3 days), a ladder in maintenance, a
    first-aid kit and 60 hand tools on the shelf."""
    with sessions.begin() as db:
        db.add_all([Hut(id="east", name="东区工具屋"), Hut(id="west", name="西区工具屋")])
        member = Member(name="王阿姨", building_unit="3-201")
        drill = Item(
            tag="DR-1",
            name_zh="电钻",
            name_en="Drill",
            category="power_tools",
            hut_id="east",
            status=ItemStatus.ON_LOAN,
        )
        ladder = Item(
            tag="LD-1",
            name_zh="梯子",
            name_en="Ladder",
            category="ladders",
            hut_id="west",
            status=ItemStatus.MAINTENANCE,
            owner="社区基金会",
        )
        kit = Item(
            tag="FA-1",
            name_zh="急救箱",
            name_en="First-aid kit",
            category="first_aid",
            hut_id="west",
        )
        db.add_all([member, drill, ladder, kit])
        db.add_all(
            Item(
                tag=f"HT-{n:03d}",
                name_zh=f"扳手{n}",
                name_en=f"Spanner {n}",
                category="hand_tools",
                hut_id="east",
            )
            for n in range(60)
        )
        db.flush()
        db.add(
            Loan(
                item_id=drill.id,
                member_id=member.id,
                hut_id="east",
                borrowed_at=T0 - timedelta(days=4),
                due_at=T0 + timedelta(days=3),
            )
        )


def _tags(html: str) -> list[str]:
    return re.findall(r'<a href="/console/items/([A-Z0-9-]+)">', html)


def test_the_inventory_lists_every_hut_with_status_words_due_dates_and_borrowers(
    signed_in: Browser, stock: None
) -> None:
    console = signed_in(Role.VIEWER)
    page = console.get("/console/items?sort=due")
    assert page.status_code == 200
    assert _tags(page.text)[0] == "DR-1"  # the one on loan first when sorted by due date
    assert "已借出" in page.text and "维修中" in page.text  # words, not colours only
    assert "2026-11-30" in page.text  # due in the hut's time zone
    assert "王阿姨" in page.text  # signed in: the borrower's name
    assert "1–50" in page.text and "63" in page.text  # a page of 50 of 63


def test_filters_search_and_sort_narrow_the_list(signed_in: Browser, stock: None) -> None:
    console = signed_in(Role.VIEWER)
    west = _tags(console.get("/console/items?hut=west").text)
    assert sorted(west) == ["FA-1", "LD-1"]
    assert _tags(console.get("/console/items?hut=west&status=maintenance").text) == ["LD-1"]
    assert _tags(console.get("/console/items?category=first_aid").text) == ["FA-1"]
    assert _tags(console.get("/console/items?q=梯").text) == ["LD-1"]
    assert _tags(console.get("/console/items?q=drill").text) == ["DR-1"]
    assert _tags(console.get("/console/items?q=ht-059").text) == ["HT-059"]
    by_name = _tags(console.get("/console/items?hut=west&sort=-name&lang=en").text)
    assert by_name == ["LD-1", "FA-1"]
    second = console.get("/console/items?category=hand_tools&offset=50")
    assert _tags(second.text) == [f"HT-{n:03d}" for n in range(50, 60)]
    assert "51–60" in second.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=broken", "status"),
        ("offset=abc", "offset"),
        ("hut=nowhere", "hut"),
        ("sort=colour", "sort"),
        ("category=..%2F", "category"),
        ("q=" + "x" * 101, "q"),
        ("q=a%00b", "q"),
    ],
)
def test_a_bad_query_value_is_named_beside_its_filter_and_the_list_still_shows(
    signed_in: Browser, stock: None, query: str, field: str
) -> None:
    page = signed_in(Role.VIEWER).get(f"/console/items?{query}")
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert f'id="e-{field}"' in page.text
    assert "Traceback" not in page.text
    assert "DR-1" in page.text  # the other filters (none) still apply


def test_the_item_page_shows_its_record_borrower_and_status_history(
    signed_in: Browser, stock: None
) -> None:
    staff = signed_in(Role.STAFF)
    page = staff.get("/console/items/DR-1")
    assert page.status_code == 200
    assert "电钻" in page.text and "王阿姨" in page.text and "2026-11-30" in page.text
    assert 'action="/console/items/DR-1/status"' in page.text
    ladder = staff.get("/console/items/ld-1")
    assert "社区基金会" in ladder.text
    done = staff.post("/console/items/LD-1/status", {"status": "available", "reason": "修好了"})
    assert done.status_code == 303
    assert done.headers["location"] == "/console/items/LD-1?done=status"
    after = staff.get(done.headers["location"])
    assert "物品状态已更改" in after.text
    assert "修好了" in after.text and "可借" in after.text
    for path in ("/console/items/NOPE-1", "/console/items/A%00B", "/console/items/" + "X" * 80):
        missing = staff.get(path)
        assert missing.status_code == 404 and "没有这个编号的物品" in missing.text
    assert staff.get("/console/items/A%00B/label.pdf").status_code == 404
    posted = staff.post("/console/items/A%00B/status", {"status": "lost", "reason": "x"})
    assert posted.status_code == 404


def test_a_status_needs_a_reason_and_an_item_on_loan_cannot_be_retired(
    signed_in: Browser, stock: None, sessions: sessionmaker[Session]
) -> None:
    staff = signed_in(Role.STAFF)
    staff.get("/console/items/FA-1")
    missing = staff.post("/console/items/FA-1/status", {"status": "retired", "reason": " "})
    assert missing.status_code == 422 and 'id="e-reason"' in missing.text
    refused = staff.post("/console/items/DR-1/status", {"status": "retired", "reason": "旧了"})
    assert refused.status_code == 409
    assert "物品已借出" in refused.text and "旧了" in refused.text  # the form refilled
    with sessions() as db:
        assert db.scalars(select(ItemStatusChange)).all() == []
        drill = db.scalars(select(Item).where(Item.tag == "DR-1")).one()
        assert drill.status is ItemStatus.ON_LOAN


def test_an_edit_is_saved_and_audited_and_a_stale_one_shows_the_current_values(
    signed_in: Browser, stock: None, sessions: sessionmaker[Session]
) -> None:
    staff, other = signed_in(Role.STAFF), signed_in(Role.STAFF)
    staff.get("/console/items/FA-1")
    other.get("/console/items/FA-1")
    form = {
        "name_zh": "大急救箱",
        "name_en": "Big first-aid kit",
        "category": "first_aid",
        "condition": "missing_part",
        "notes": "缺纱布",
        "version": "1",
    }
    saved = staff.post("/console/items/FA-1/edit", form)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    stale = other.post("/console/items/FA-1/edit", {**form, "name_zh": "小急救箱"})
    assert stale.status_code == 409
    assert "已被别人修改" in stale.text and 'value="大急救箱"' in stale.text
    bad = staff.post("/console/items/FA-1/edit", {**form, "name_zh": "", "version": "2"})
    assert bad.status_code == 422 and 'id="e-name_zh"' in bad.text
    with sessions() as db:
        kit = db.scalars(select(Item).where(Item.tag == "FA-1")).one()
        assert (kit.name_zh, kit.notes, kit.condition.value, kit.version) == (
            "大急救箱",
            "缺纱布",
            "missing_part",
            2,
        )
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "item.update")).one()
        assert entry.entity_id == "FA-1"


def test_a_viewer_sees_no_edit_forms_and_is_refused_posting_anyway(
    signed_in: Browser, stock: None, sessions: sessionmaker[Session]
) -> None:
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/items/LD-1")
    assert "/status" not in page.text and "/edit" not in page.text
    refused = viewer.post("/console/items/LD-1/status", {"status": "available", "reason": "x"})
    assert refused.status_code == 403 and "Traceback" not in refused.text
    edit = viewer.post("/console/items/LD-1/edit", {"name_zh": "x", "version": "1"})
    assert edit.status_code == 403
    with sessions() as db:
        ladder = db.scalars(select(Item).where(Item.tag == "LD-1")).one()
        assert ladder.status is ItemStatus.MAINTENANCE and ladder.name_zh == "梯子"


def test_the_label_is_a_pdf_without_personal_data(signed_in: Browser, stock: None) -> None:
    label = signed_in(Role.VIEWER).get("/console/items/DR-1/label.pdf")
    assert label.status_code == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    assert "王阿姨".encode() not in label.content
