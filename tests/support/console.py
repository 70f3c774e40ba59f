"""A browser's view of the console for tests without a browser: a client (a TestClient, or
an httpx client of a real server) that reads each page's CSRF token from its form, as a
browser posts it back, and signs in through the sign-in page. Tests in a real Chromium
are tests/e2e/test_console_browser*.py."""

from __future__ import annotations

import re
from typing import Any

from httpx import Client, Response

from tests.support.staff_auth import PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Console:
    """One browser: its cookies, and the token of the last page it read."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any) -> Response:
        response = self.client.get(path, **kwargs)
        if "text/html" in response.headers.get("content-type", ""):
            found = _TOKEN.search(response.text)
            if found:
                self.token = found.group(1)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, page: str | None = None, **kw: Any
    ) -> Response:
        """Posts ``data`` as a form with the token of ``page`` (read first), or of the last
        page read."""
        if page is not None or self.token is None:
            self.get(page or "/console/sign-in")
        fields = {"csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=fields, follow_redirects=False, **kw)

    def sign_in(self, username: str, password: str = PASSWORD) -> Response:
        response = self.post(
            "/console/sign-in",
            {"username": username, "password": password},
            page="/console/sign-in",
        )
        self.token = None  # a session's token differs from the sign-in form's
        return response
