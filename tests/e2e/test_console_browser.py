"""The console in a real Chromium against a real server process (the hut stack: broker,
server, gateway, emulator): signing in as a person does, a wrong password named on the
form, and the throttle after repeated failures; a category added on its page (a bad field
named beside it first)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain.roles import Role
from tests.support.browser import new_tab
from tests.support.hut_stack import HutStack, hut_stack
from tests.support.staff_auth import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix) as found:
        yield found


def test_sign_in_wrong_password_and_the_throttle(stack: HutStack, chromium: Any) -> None:
    username = stack.account(Role.STAFF)
    tab = new_tab(chromium, stack.base)
    tab.goto("/console/sign-in")
    tab.page.fill("#f-username", username)
    tab.page.fill("#f-password", "wrong-password")
    tab.page.click("button[type=submit]")
    assert "用户名或密码不正确" in tab.page.inner_text("[role=alert]")
    assert tab.page.input_value("#f-username") == username
    for _ in range(10):  # past the account's allowance: the throttle answers
        tab.page.fill("#f-password", "wrong-password")
        tab.page.click("button[type=submit]")
        if "稍后" in tab.page.inner_text("[role=alert]"):
            break
    else:
        raise AssertionError("ten wrong passwords and no throttle")
    other = new_tab(chromium, stack.base)
    other.sign_in(stack.account(Role.VIEWER), PASSWORD)
    assert other.page.url.endswith("/console")
    other.assert_clean()


def test_staff_add_a_category_a_bad_field_named_beside_it(stack: HutStack, chromium: Any) -> None:
    tab = new_tab(chromium, stack.base)
    tab.sign_in(stack.account(Role.STAFF), PASSWORD)
    tab.goto("/console/categories")
    assert "60 岁以上的居民在等候名单中优先" in tab.page.inner_text("main")
    tab.page.fill("#f-key", "garden_tools")
    tab.page.fill("#f-name_zh", "园艺工具")
    tab.page.fill("#f-name_en", "Garden tools")
    tab.page.fill("#f-loan_days", "-1")
    tab.page.click("#h-add ~ form button[type=submit]")
    assert "不能小于 1" in tab.page.inner_text("#e-loan_days")
    assert tab.page.input_value("#f-name_zh") == "园艺工具"  # what was typed is kept
    tab.page.fill("#f-loan_days", "5")
    tab.page.check("input[name=senior_first]")
    tab.page.click("#h-add ~ form button[type=submit]")
    tab.page.wait_for_url("**/console/categories/garden_tools?done=added")
    assert "类别已添加" in tab.page.inner_text("[role=status]")
    tab.expect_refused_loads(1)  # the refused form's page
    tab.assert_clean()
