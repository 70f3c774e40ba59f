"""Security headers on every response: a Content-Security-Policy, no framing, no MIME
sniffing, no referrer to other sites. A pure ASGI middleware, so it wraps pages, the API,
/docs, /redoc and the static files alike.

The pages load nothing inline (their stylesheet is /static/site/site.css). The docs pages of
fastapi-offline carry inline scripts: their CSP admits exactly those scripts by SHA-256,
hashed from the page as served (the server writes it; no request text gets into it), and
inline styles, which ReDoc injects while it runs."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: no referrer leaves for another site, and a form of the
    # console keeps its Origin (with no-referrer a browser sends "Origin: null", which
    # server.api.auth refuses on a signed-in POST).
    "Referrer-Policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_csp(html: bytes) -> str:
    """The CSP of a docs page: its own inline scripts by hash, nothing else inline."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add(message, HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Held back until the whole page is there: its CSP depends on its scripts.
        start: Message | None = None
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            _add(start, {**HEADERS, "Content-Security-Policy": docs_csp(page)})
            await send(start)
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, hold)


def _add(start: Message, headers: dict[str, str]) -> None:
    existing: Any = MutableHeaders(scope=start)
    for name, value in headers.items():
        existing.setdefault(name, value)
