"""Import in a real Chromium against a real server process (the hut stack): a CSV with one
bad row is refused with that row named, nothing written; then the clean file is checked
and imported. And the public pages on a phone, with a loan made at the hut through the
emulator: no horizontal scroll, the due date shown, never the borrower."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain.roles import Role
from tests.support.browser import PHONE, new_tab
from tests.support.hut_stack import HutStack, hut_stack
from tests.support.staff_auth import PASSWORD

pytestmark = pytest.mark.e2e

HEADER = "tag,name_zh,name_en,category,hut\n"
ROWS_OK = "N0001,锤子,Hammer,hand_tools,{hut}\n"
ROW_BAD = "N0002,锯子,Saw,no_such_category,{hut}\n"
ZHANG = "04A1B2C3"  # the demo's 张阿姨, flat 3-201


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix) as found:
        yield found


def _hut(stack: HutStack) -> str:
    huts = stack.staff("/api/v1/huts")["data"]
    return str(huts[0]["id"])


def test_a_csv_with_a_bad_row_is_refused_with_the_row_named_then_imported(
    stack: HutStack, chromium: Any, tmp_path: Path
) -> None:
    hut = _hut(stack)
    bad = tmp_path / "物品.csv"
    bad.write_text(HEADER + ROWS_OK.format(hut=hut) + ROW_BAD.format(hut=hut), "utf-8")
    tab = new_tab(chromium, stack.base)
    tab.goto("/console/transfer")  # to the sign-in page and back
    tab.page.fill("#f-username", stack.account(Role.STAFF))
    tab.page.fill("#f-password", PASSWORD)
    tab.page.click("button[type=submit]")
    tab.page.wait_for_url("**/console/transfer")
    tab.page.select_option("#f-kind", "items")
    tab.page.set_input_files("#f-file", str(bad))
    tab.page.click("form[enctype] button[type=submit]")
    alert = tab.page.inner_text("[role=alert]")
    assert "未写入任何内容" in alert
    report = tab.page.inner_text("table.transfer-report")
    assert "第 3 行" in report and "类别" in report
    assert tab.page.locator("input[name=token]").count() == 0  # no "import these"
    assert all(i["tag"] != "N0001" for i in stack.staff("/api/v1/items?limit=500")["data"])

    good = tmp_path / "good.csv"
    good.write_text(HEADER + ROWS_OK.format(hut=hut), "utf-8")
    tab.page.select_option("#f-kind", "items")
    tab.page.set_input_files("#f-file", str(good))
    tab.page.click("form[enctype] button[type=submit]")
    tab.page.click("text=导入这 1 行")
    assert "已导入" in tab.page.inner_text("[role=status]")
    assert any(i["tag"] == "N0001" for i in stack.staff("/api/v1/items?limit=500")["data"])
    # The refused file's page is a 422 on purpose (bad input), which Chromium logs as a
    # failed load: that one line, and nothing else, may be in the tab's log.
    refused_load = "the server responded with a status of 422"
    assert sum(refused_load in p for p in tab.problems) == 1, tab.problems
    tab.problems = [p for p in tab.problems if refused_load not in p]
    tab.assert_clean()


def test_a_public_item_page_on_a_phone_shows_the_due_date_not_the_borrower(
    stack: HutStack, chromium: Any
) -> None:
    emulator = stack.emulator
    assert emulator is not None
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock pulse_ms=\d+")
    emulator.send("door open")
    emulator.send("scan T0001")
    borrowed = emulator.expect(r'^recv feedback beep=(\w+) text="(.*)"')
    assert borrowed.group(1) == "ok", borrowed.group(0)
    emulator.send("door close")

    tab = new_tab(chromium, stack.base, viewport=PHONE)
    for path in ("/i/T0001", "/"):
        tab.goto(path)
        text = tab.page.inner_text("body")
        assert "已借出" in text and "预计归还" in text
        assert "张阿姨" not in text and "3-201" not in text and ZHANG not in text
        width = tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    small = tab.page.evaluate(
        """[...document.querySelectorAll('a, button, input, select')]
             .filter(e => e.getBoundingClientRect().height < 44)
             .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert not small, small  # every touch target at least 44 px tall
    tab.assert_clean()
