"""/docs and /redoc work on a hut's intranet with no internet: every script, stylesheet and
icon they load comes from the server itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from server.app import ServerRuntime
from server.settings import ServerSettings


@pytest.fixture
def base_url(tmp_path: Path, mqtt_url: str, topic_prefix: str) -> Iterator[str]:
    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path}/docs.sqlite3",
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
        secret_file=tmp_path / "server-secret",
    )
    runtime = ServerRuntime(settings)
    runtime.start()
    try:
        yield runtime.base_url
    finally:
        runtime.stop()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_load_nothing_from_another_host(base_url: str, page: str) -> None:
    html = httpx.get(base_url + page).text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, html
    assert not re.search(r"https?://", html.replace(base_url, "")), html
    for asset in assets:
        url = urljoin(base_url + page, asset)
        assert urlsplit(url).netloc == urlsplit(base_url).netloc
        response = httpx.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 100, url
    # The page fetches the schema by script, not by a tag: it must be there too.
    assert httpx.get(base_url + "/openapi.json").json()["info"]["title"] == "Tool hut server"


@pytest.mark.parametrize(("page", "drawn"), [("/docs", ".opblock"), ("/redoc", "h1"), ("/", "h1")])
def test_pages_work_in_a_real_browser_under_their_csp(
    base_url: str, page: str, drawn: str, chromium: Any
) -> None:
    """In the session's one Chromium (tests/support/browser.py: a loud skip without it)."""
    context = chromium.new_context()
    try:
        tab = context.new_page()
        messages: list[str] = []
        tab.on("console", lambda message: messages.append(message.text))
        tab.goto(base_url + page)
        tab.wait_for_selector(drawn, timeout=30_000)  # the page's scripts ran and drew it
    finally:
        context.close()
    refused = [m for m in messages if "Content Security Policy" in m]
    # Only what is not ours may be refused (ReDoc's logo from its CDN).
    assert all("https://cdn.redoc.ly/" in m for m in refused), refused
