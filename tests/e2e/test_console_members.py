"""The member pages in a real Chromium against the hut stack (broker, server, emulator on
a pty, gateway): a card enrolled by a tap at the emulated hut, seen on the waiting page
without a reload (enrol.js), and a viewer who sees no edit button on a member's page and
whose post with the page's own token is refused by the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hut_gateway.gateway import TEXT_ENROL_READY
from server.domain.roles import Role
from tests.support.browser import DESKTOP, PHONE, Tab, new_tab
from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.staff_auth import PASSWORD

pytestmark = pytest.mark.e2e

NEW_CARD = "0E1E2E3E"


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix) as found:
        yield found


def _new_member(stack: HutStack) -> int:
    member = stack.staff(
        "/api/v1/members", method="POST", body={"name": "赵先生", "building_unit": "5-302"}
    )
    return int(member["id"])


def _sign_in_to(tab: Tab, username: str, path: str) -> None:
    """Signs in on the sign-in page that ``path`` sends a stranger to, and lands there."""
    tab.goto(path)
    tab.page.fill("#f-username", username)
    tab.page.fill("#f-password", PASSWORD)
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url(re.compile(re.escape(path) + "$"))


def test_a_card_tapped_at_the_hut_shows_on_the_waiting_page_without_a_reload(
    stack: HutStack, chromium: Any
) -> None:
    member_id = _new_member(stack)
    emulator = stack.emulator
    assert emulator is not None
    tab = new_tab(chromium, stack.base, viewport=PHONE)
    _sign_in_to(tab, stack.account(Role.STAFF), f"/console/members/{member_id}")
    tab.page.select_option("#f-hut", HUT)
    tab.page.click("#enrol-by-tap")
    tab.page.wait_for_url(re.compile(r"/console/enrolments/\d+$"))
    assert tab.page.inner_text("#enrol-name") == "等待中"
    tab.page.evaluate("window.stillTheSamePage = true")
    # The gateway is in enrol mode once it shows the prompt: then the card is tapped.
    emulator.expect(rf'^recv feedback beep=\w+ text="{re.escape(TEXT_ENROL_READY)}"')
    emulator.send(f"card {NEW_CARD}")
    tab.page.locator('#enrolment[data-state="bound"]').wait_for()
    assert NEW_CARD[-4:] in tab.page.inner_text("#enrol-text")
    assert NEW_CARD not in tab.page.content()  # the page shows the last digits only
    assert tab.page.evaluate("window.stillTheSamePage") is True  # no reload
    assert tab.page.is_visible("#enrol-done") and not tab.page.is_visible("#enrol-actions")
    tab.page.click("#enrol-done a")
    tab.page.wait_for_url(re.compile(rf"/console/members/{member_id}$"))
    assert NEW_CARD in tab.page.inner_text("#cards")
    tab.assert_clean()


def test_a_viewer_sees_no_edit_button_and_the_server_refuses_a_post_anyway(
    stack: HutStack, chromium: Any
) -> None:
    member_id = _new_member(stack)
    tab = new_tab(chromium, stack.base, viewport=DESKTOP)
    _sign_in_to(tab, stack.account(Role.VIEWER), f"/console/members/{member_id}")
    assert "赵先生" in tab.page.inner_text("h1")
    assert tab.page.locator(f"form[action^='/console/members/{member_id}']").count() == 0
    assert tab.page.locator("#enrol-by-tap, a[href$='/edit']").count() == 0
    token = tab.page.input_value("input[name=csrf_token]")  # the sign-out form's
    answer = tab.page.request.post(
        f"{stack.base}/console/members/{member_id}/suspend",
        form={"csrf_token": token, "reason": "试试看"},
    )
    assert answer.status == 403
    assert "查看者" in answer.text() or "403" in str(answer.status)
    assert stack.staff(f"/api/v1/members/{member_id}")["status"] == "active"
    tab.assert_clean()
