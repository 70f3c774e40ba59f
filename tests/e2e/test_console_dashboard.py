"""The console's dashboard live, in a real Chromium against the hut stack (broker,
seeded server, gateway, emulator on a pty): the door of the emulated hut opened and shut
after a card shows on its card without a reload; the door forced open raises an alarm
that appears at the top, and once staff resolve it (through the API) it leaves the list,
again without a reload. The charts are drawn by the locally served ECharts under the CSP
(no refusal, no script error). The page's content and counts: tests/server/web/
test_dashboard.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain.roles import Role
from tests.support.browser import PHONE, Tab, new_tab
from tests.support.hut_stack import HUT, HutStack, hut_stack
from tests.support.processes import poll_until
from tests.support.staff_auth import PASSWORD

pytestmark = pytest.mark.e2e

ZHANG = "04A1B2C3"  # 张阿姨, seeded
CARD = f'.hut-card[data-hut="{HUT}"]'
LIVE_WITHIN_MS = 5_000  # the stream says it within 1 s; the status travels the MQTT wire too


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix) as found:
        yield found


def open_dashboard(
    stack: HutStack, chromium: Any, *, viewport: dict[str, int] | None = None
) -> Tab:
    """A viewer on /console with the stream open, marked so that a reload would show."""
    tab = new_tab(chromium, stack.base, viewport=viewport)
    tab.sign_in(stack.account(Role.VIEWER), PASSWORD)
    assert tab.page.url.endswith("/console")
    tab.page.wait_for_selector("#dashboard.is-live", state="attached")
    tab.page.evaluate("window.sameLoad = true")
    return tab


def field(tab: Tab, scope: str, name: str) -> Any:
    return tab.page.locator(f'{scope} [data-field="{name}"]').first


def still_the_same_load(tab: Tab) -> bool:
    return bool(tab.page.evaluate("window.sameLoad === true"))


def test_a_door_opened_and_shut_at_the_hut_shows_on_its_card_without_a_reload(
    stack: HutStack, chromium: Any
) -> None:
    emulator = stack.emulator
    assert emulator is not None
    tab = open_dashboard(stack, chromium)
    page = tab.page
    page.wait_for_function(
        "s => document.querySelector(s).classList.contains('is-online')", arg=CARD
    )
    assert field(tab, CARD, "online").inner_text() == "在线"
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^lock released for ")
    emulator.send("door open")
    emulator.expect(r"^sent door open")
    field(tab, CARD, "door").filter(has_text="开着").wait_for(timeout=LIVE_WITHIN_MS)
    emulator.send("scan T0001")  # a power drill borrowed: the charts have a loan to show
    emulator.expect(r"^recv feedback beep=ok")
    emulator.send("door close")
    field(tab, CARD, "door").filter(has_text="已关好").wait_for(timeout=LIVE_WITHIN_MS)
    assert still_the_same_load(tab)
    page.wait_for_selector('[data-chart="weeks"] canvas', state="attached")
    tab.assert_clean()

    # A page read now: the loan in both charts, drawn by ECharts from charts.json under
    # the CSP, the figures folded beneath (open for a browser without scripts).
    poll_until(lambda: stack.staff("/api/v1/loans")["total"] == 1, what="the loan recorded")
    other = open_dashboard(stack, chromium)
    for chart in ("weeks", "categories"):
        other.page.wait_for_selector(f'[data-chart="{chart}"] canvas', state="attached")
    other.page.wait_for_function("!document.querySelector('details.figures-box').open")
    assert "电动工具" in other.page.locator("table.figures").nth(1).text_content()
    other.assert_clean()


def test_a_forced_door_is_an_alarm_on_top_until_staff_resolve_it(
    stack: HutStack, chromium: Any
) -> None:
    emulator = stack.emulator
    assert emulator is not None
    tab = open_dashboard(stack, chromium, viewport=PHONE)
    page = tab.page
    assert page.locator("#no-alarms").is_visible()
    emulator.send("door open")  # no card: the controller says forced open
    emulator.expect(r"^sent alarm kind=forced_open active=1")
    row = page.locator("#alarm-rows tr.alarm-row").filter(has_text="门被强行打开")
    row.wait_for(timeout=LIVE_WITHIN_MS)
    assert HUT in row.inner_text() or "工具屋" in row.inner_text()
    assert page.locator("#alarm-count").inner_text() == "1"
    field(tab, CARD, "alarms").filter(has_text="门被强行打开").wait_for(timeout=LIVE_WITHIN_MS)
    assert page.locator("#no-alarms").is_hidden()

    listed = poll_until(
        lambda: next(
            (
                a
                for a in stack.staff(f"/api/v1/alarms?hut={HUT}")["data"]
                if a["kind"] == "forced_open"
            ),
            None,
        ),
        what="the alarm in the API",
    )
    path = f"/api/v1/alarms/{listed['id']}"
    stack.staff(f"{path}/acknowledge", method="POST", body={"note": "on my way"})
    row.filter(has_text="已确认").wait_for(timeout=LIVE_WITHIN_MS)
    emulator.send("door close")
    stack.staff(f"{path}/resolve", method="POST", body={"note": "door checked"})
    row.wait_for(state="detached", timeout=LIVE_WITHIN_MS)
    page.locator("#no-alarms").wait_for(state="visible", timeout=LIVE_WITHIN_MS)
    assert page.locator("#alarm-count").inner_text() == "0"
    assert still_the_same_load(tab)
    tab.assert_clean()
