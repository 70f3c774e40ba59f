"""The console's inventory, item and loans pages in a real Chromium against a real server
process (the hut stack): filter by a status and a hut and see only rows that match; the item
page (and the lists) on a phone, nothing wider than its screen and the status a readable
word; no CSP refusal or script error on the way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.domain import ItemStatus
from server.domain.roles import Role
from server.storage import make_engine, make_sessionmaker
from server.storage.models import Hut, Item, Loan, Member
from tests.support.browser import PHONE, new_tab
from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.staff_auth import PASSWORD

pytestmark = pytest.mark.e2e

OTHER_HUT = "north-hut"


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix) as found:
        _stock(found)
        yield found


def _stock(stack: HutStack) -> None:
    """A second hut with an item in maintenance and one on the shelf, and one of the seeded
    hut's items on loan (a long name, for the phone's width)."""
    engine = make_engine(stack.db_url)
    try:
        with make_sessionmaker(engine).begin() as db:
            db.add(Hut(id=OTHER_HUT, name="北区工具屋"))
            db.flush()
            db.add_all(
                [
                    Item(
                        tag="NO-1",
                        name_zh="北区梯子",
                        name_en="North ladder",
                        category="ladders",
                        hut_id=OTHER_HUT,
                        status=ItemStatus.MAINTENANCE,
                    ),
                    Item(
                        tag="NO-2",
                        name_zh="北区电钻",
                        name_en="North drill",
                        category="power_tools",
                        hut_id=OTHER_HUT,
                    ),
                    Item(
                        tag="E2E-LONG-TAG-0001",
                        name_zh="特别长名字的多功能充电式电动螺丝刀套装",
                        name_en="Cordless multi-purpose electric screwdriver set with many bits",
                        category="power_tools",
                        hut_id=HUT,
                        status=ItemStatus.ON_LOAN,
                        notes="一段很长的备注" * 20,
                    ),
                ]
            )
            db.flush()
            member = db.scalars(select(Member).limit(1)).one()
            item = db.scalars(select(Item).where(Item.tag == "E2E-LONG-TAG-0001")).one()
            now = datetime.now(UTC)
            db.add(
                Loan(
                    item_id=item.id,
                    member_id=member.id,
                    hut_id=HUT,
                    borrowed_at=now - timedelta(days=1),
                    due_at=now + timedelta(days=6),
                )
            )
    finally:
        engine.dispose()


def _sign_in(tab: Any, username: str, target: str) -> None:
    tab.goto(f"/console/sign-in?next={target}")
    tab.page.fill("#f-username", username)
    tab.page.fill("#f-password", PASSWORD)
    tab.page.click("form[action='/console/sign-in'] button[type=submit]")
    tab.page.wait_for_url(lambda url: target in url)


def test_filter_the_inventory_by_status_and_hut(stack: HutStack, chromium: Any) -> None:
    tab = new_tab(chromium, stack.base)
    _sign_in(tab, stack.account(Role.VIEWER), "/console/items")
    rows = tab.page.locator("table.list tbody tr")
    assert rows.count() > 2  # every hut's items
    tab.page.select_option("#f-status", "maintenance")
    tab.page.select_option("#f-hut", OTHER_HUT)
    tab.page.click("form.filters button[type=submit]")
    tab.page.wait_for_url(lambda url: "status=maintenance" in url and OTHER_HUT in url)
    assert rows.count() == 1
    cells = rows.first.locator("td")
    assert "NO-1" in cells.nth(0).inner_text()
    assert "北区工具屋" in cells.nth(2).inner_text()
    assert "维修中" in cells.nth(4).inner_text()
    assert tab.page.input_value("#f-status") == "maintenance"  # the form keeps the filters
    tab.page.select_option("#f-status", "")
    tab.page.click("form.filters button[type=submit]")
    tab.page.wait_for_url(lambda url: "status=maintenance" not in url)
    hut_cells = tab.page.locator("table.list tbody tr td:nth-child(3)").all_inner_texts()
    assert sorted(hut_cells) == ["北区工具屋", "北区工具屋"]
    tab.assert_clean()


def test_the_item_page_fits_a_phone_and_says_its_status(stack: HutStack, chromium: Any) -> None:
    tab = new_tab(chromium, stack.base, viewport=PHONE)
    _sign_in(tab, stack.account(Role.STAFF), "/console/items/E2E-LONG-TAG-0001")
    status = tab.page.locator(".item-status .badge")
    assert status.inner_text() == "已借出"
    assert status.is_visible()
    assert tab.page.locator("#f-reason").is_visible()  # staff: the status form
    width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    button = tab.page.locator("form[action$='/status'] button[type=submit]").bounding_box()
    assert button is not None and button["height"] >= 44
    for path in ("/console/items", "/console/loans"):  # the lists, as cards on a phone
        tab.goto(path)
        width = tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px screen"
    assert tab.page.locator("tr[id^=loan-] button", has_text="立即提醒").first.is_visible()
    tab.assert_clean()
