"""A real Chromium (Debian's, /usr/bin/chromium) driven by Playwright, for the console and
the public pages: a tab signed in through the sign-in page as a person does, CSP refusals
and page errors collected, so a test can assert none happened.

Without Playwright or Chromium, the tests that use ``chromium`` skip and say why (the
terminal summary lists every skip)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000  # for a state to show: generous, for a loaded machine; not a sleep


@contextmanager
def chromium_browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright NOT installed: the pages were NOT tested in a browser")
    if not CHROMIUM.exists():
        pytest.skip("chromium NOT found: the pages were NOT tested (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page of its own browser context (its own cookies), and what went wrong in it."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def sign_in(self, username: str, password: str) -> None:
        self.goto("/console/sign-in")
        self.page.fill("#f-username", username)
        self.page.fill("#f-password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/console/sign-in" not in url, timeout=WAIT_MS)

    def expect_refused_loads(self, count: int, status: int = 422) -> None:
        """Exactly ``count`` pages answered ``status`` on purpose (a refused form), which
        Chromium logs as failed loads: those lines leave the tab's log, nothing else."""
        line = f"the server responded with a status of {status}"
        assert sum(line in p for p in self.problems) == count, self.problems
        self.problems = [p for p in self.problems if line not in p]

    def assert_clean(self) -> None:
        """No CSP refusal, no script error, in everything this tab loaded."""
        assert not self.problems, self.problems


def new_tab(browser: Any, base: str, *, viewport: dict[str, int] | None = None) -> Tab:
    context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    tab = Tab(page=page, base=base)
    page.on(
        "console",
        lambda m: (
            tab.problems.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    return tab


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A Chromium of the test's own. Not one per session: Playwright's sync API keeps an
    event loop running in the main thread while it is open, and every asyncio.run of a
    later test would then fail."""
    with chromium_browser() as browser:
        yield browser
