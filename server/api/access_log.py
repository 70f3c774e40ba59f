"""One log line per HTTP request that names the route, never the request's own path.

A path or query string can carry personal data (``/api/v1/cards/04A1B2C3/lost``,
``/api/v1/members?q=李``): uvicorn's access log, which writes both whole, is off, and this
middleware logs the method, the route's template (``/api/v1/cards/{uid}/lost``), the status
and the time taken instead. A request no route matched is logged as such, without its path.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("toolhut.http")

NO_ROUTE = "(no route)"


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                route_of(scope),
                status,
                (time.perf_counter() - start) * 1000,
            )


def route_of(scope: Scope) -> str:
    """The template of the route that answered, or the mount it fell under; never the
    request's own path."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    root = scope.get("root_path", "")
    if root:  # a mounted app (the static files): its prefix is ours, not the client's
        return f"{root}/…"
    return NO_ROUTE
