"""A micro-wish through its four steps against a real server process: a resident proposes
it on /me/wishes in a real Chromium on a phone's screen, a second resident supports it
(over HTTP, as a phone posts the form), staff record the meeting's deliberation and handle
it as donated by a partner organisation (the donated item named by its tag), the proposer
rates it on her phone and it is evaluated; the partner's page and its API record list the
wish and the item. Nothing on the phone wider than its screen, no CSP refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.domain.roles import Role
from server.residents import codes
from server.residents.codes import Via
from server.residents.config import ResidentSettings
from server.storage import make_engine, make_sessionmaker
from server.storage.models import Member
from tests.support.browser import PHONE, Tab, new_tab
from tests.support.console import Console
from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.wish_pages import wish_card

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix, hut=False) as found:
        yield found


@pytest.fixture
def clients(stack: HutStack) -> Iterator[list[httpx.Client]]:
    opened: list[httpx.Client] = []
    yield opened
    for client in opened:
        client.close()


def _browser(stack: HutStack, clients: list[httpx.Client]) -> Console:
    client = httpx.Client(base_url=stack.base, timeout=30)
    clients.append(client)
    return Console(client)


def _code(stack: HutStack, name: str) -> str:
    """A sign-in code for the seeded member ``name``, as the hut's display would show it."""
    engine = make_engine(stack.db_url)
    try:
        with make_sessionmaker(engine).begin() as db:
            member_id = db.scalar(select(Member.id).where(Member.name == name))
            assert member_id is not None
            issued = codes.issue(
                db, member_id=member_id, via=Via.HUT, now=datetime.now(UTC),
                settings=ResidentSettings(),
            )  # fmt: skip
    finally:
        engine.dispose()
    return issued.code


def _resident(stack: HutStack, clients: list[httpx.Client], name: str) -> Console:
    phone = _browser(stack, clients)
    signed = phone.post("/me/sign-in", {"code": _code(stack, name)}, page="/me/sign-in")
    assert signed.status_code == 303 and signed.headers["location"] == "/me", signed.text
    return phone


def _fits(tab: Tab) -> None:
    width = tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{tab.page.url} is {width}px wide on a phone"


def test_a_wish_goes_through_the_four_steps_with_a_partner_donation(
    stack: HutStack, clients: list[httpx.Client], chromium: Any
) -> None:
    tab = new_tab(chromium, stack.base, viewport=PHONE)
    tab.goto("/me/wishes")  # signed out: the sign-in page, back here after
    tab.page.fill("#code", _code(stack, "张阿姨"))
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url(re.compile(r"/me/wishes$"))
    _fits(tab)
    tab.page.fill("#f-title", "希望有一台电钻")
    tab.page.fill("#f-detail", "挂窗帘打孔")
    tab.page.select_option("#f-hut", HUT)
    tab.page.click("#propose button[type=submit]")
    tab.page.wait_for_url(re.compile(r"/me/wishes\?done=proposed#wish-\d+$"))
    found = re.search(r"#wish-(\d+)$", tab.page.url)
    assert found is not None
    wish_id = int(found.group(1))
    mine = tab.page.locator(f"#wish-{wish_id}")
    assert "我的" in mine.inner_text() and "提议" in mine.inner_text()

    tab.goto("/")  # the overview chimes it, without her name
    chimes = tab.page.locator("section[aria-labelledby=h-wishes]").inner_text()
    assert "心愿风铃" in chimes and "希望有一台电钻" in chimes and "张阿姨" not in chimes
    _fits(tab)

    li = _resident(stack, clients, "李师傅")
    card = wish_card(li.get("/me/wishes").text, wish_id)
    assert "一位邻居提议" in card and "张阿姨" not in card
    assert li.post(f"/me/wishes/{wish_id}/support", {}).status_code == 303
    assert "支持人数：1" in wish_card(li.get("/me/wishes").text, wish_id)

    staff = _browser(stack, clients)
    assert staff.sign_in(stack.account(Role.STAFF)).status_code == 303
    wish_url = f"/console/wishes/{wish_id}"
    console_page = staff.get(wish_url).text
    assert "张阿姨" in console_page and "李师傅" in console_page  # staff see who
    deliberated = staff.post(
        f"{wish_url}/deliberation", {"meeting_on": "2026-11-30", "decision": "请物业捐赠一台"}
    )
    assert deliberated.status_code == 303, deliberated.text
    staff.get("/console/partners")
    added = staff.post("/console/partners", {"name": "幸福里物业", "services": "维修、捐赠"})
    assert added.status_code == 303, added.text
    partner_url = added.headers["location"].split("?")[0]
    partner_id = int(partner_url.rsplit("/", 1)[1])
    staff.get(wish_url)
    handled = staff.post(
        f"{wish_url}/handling",
        {"outcome": "donated", "partner_id": str(partner_id), "item": "T0001"},
    )
    assert handled.status_code == 303, handled.text

    tab.goto("/me/wishes")
    card_text = mine.inner_text()
    assert "已办" in card_text and "由幸福里物业捐赠" in card_text and "2026-11-30" in card_text
    _fits(tab)
    mine.get_by_label("满意", exact=True).check()
    mine.locator("textarea[name=comment]").fill("很好用")
    mine.locator("button[type=submit]").click()
    tab.page.wait_for_url(re.compile(r"/me/wishes\?done=rated#wish-\d+$"))
    assert "已评" in mine.inner_text() and "您的评价：5分" in mine.inner_text()
    tab.assert_clean()

    record = stack.staff(f"/api/v1/wishes/{wish_id}")
    assert record["status"] == "evaluated" and record["channel"] == "phone"
    assert [(r["score"], r["comment"]) for r in record["ratings"]] == [(5, "很好用")]
    partner = staff.get(partner_url).text
    assert "希望有一台电钻" in partner and "T0001" in partner
    api_partner = stack.staff(f"/api/v1/partners/{partner_id}")
    assert api_partner["fulfilled_wishes"] == [wish_id]
    assert api_partner["donated_items"] == ["T0001"]
