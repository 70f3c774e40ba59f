"""The one authorisation check on every route, derived from the app itself (routes other
work adds are checked without this file changing): signed out is 401 on every route not
public; a viewer may change nothing (403 on every route that needs more); staff are 403
on every admin route. Which role a route needs is read from its dependencies."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.sse import EventSourceResponse
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.clock import OffsetClock
from server.clock_settings import ClockSettings
from server.domain.roles import Role
from server.settings import ServerSettings
from tests.support.staff_auth import staff_headers

from .conftest import MovableClock

# Routes anyone may call (some show signed-in staff more: OptionalPrincipalDep).
PUBLIC = {
    ("GET", "/healthz"),  # orchestrators do not sign in; neither says anything personal
    ("GET", "/readyz"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/"),
    ("GET", "/i/{tag}"),
    ("GET", "/api/v1/huts"),
    ("GET", "/api/v1/huts/{hut_id}"),  # address, hours, contact: what residents need
    ("GET", "/api/v1/items"),
    ("GET", "/api/v1/items/{tag}"),  # the borrower and the history only to staff
    ("GET", "/api/v1/loans"),
    ("GET", "/api/v1/supplies/public"),
    ("POST", "/api/v1/auth/sign-in"),
    ("POST", "/api/v1/auth/sign-out"),
}
# Routes that answer with a stream that stays open (server-sent events): requested as a
# stream, their answer's status is read and the stream closed.
STREAMS = {
    ("GET", "/api/v1/huts/stream"),
}
# Writes of one's own account, open to every signed-in role.
SELF_SERVICE = {
    ("POST", "/api/v1/me/password"),
    ("POST", "/api/v1/me/tokens"),
    ("DELETE", "/api/v1/me/tokens/{token_id}"),
}

# What the system flagged for staff (alarms, anomalies, sequence gaps, dead letters): every
# signed-in role lists them, staff and admins review them (named here, so a route that lost
# its check is caught even before the derived checks below).
FLAGGED = {
    (method, f"/api/v1/{kind}{tail}"): role
    for kind in ("alarms", "anomalies", "sequence-gaps", "dead-letters")
    for method, tail, role in (
        ("GET", "", Role.VIEWER),
        ("POST", "/{record_id}/acknowledge", Role.STAFF),
        ("POST", "/{record_id}/resolve", Role.STAFF),
    )
}


# Every optional router mounted: the clock's routes are there only where the settings let
# the clock be moved (demos and tests), and are walked like the others.
SETTINGS = ServerSettings(db_url="sqlite://", clock=ClockSettings(enabled=True))


def _app() -> FastAPI:
    from server.storage import make_engine

    return create_app(SETTINGS, engine=make_engine("sqlite://"))


def _calls(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield getattr(sub.call, "__name__", "")
        yield from _calls(sub)


def required_role(dependant: Dependant) -> Role | None:
    """The highest role a route's dependencies require (server.api.auth.require), or
    None for a route without one."""
    roles = [
        Role(name.removeprefix("require_"))
        for name in _calls(dependant)
        if name.startswith("require_")
    ]
    return max(roles, key=lambda role: role.rank, default=None)


def required_page_role(dependant: Dependant) -> Role | None:
    """The role a console page's dependencies require (server.web.guard.page_role)."""
    roles = [
        Role(name.removeprefix("page_"))
        for name in _calls(dependant)
        if name.startswith("page_") and name.removeprefix("page_") in set(Role)
    ]
    return max(roles, key=lambda role: role.rank, default=None)


def _all_routes(*, pages: bool) -> list[tuple[str, str, Role | None]]:
    judge = required_page_role if pages else required_role
    return sorted(
        (method, context.path, judge(context.dependant))
        for context in iter_route_contexts(_app().routes)
        if isinstance(context.original_route, APIRoute)
        and context.path.startswith(CONSOLE) is pages
        for method in context.methods or ()
    )


def _routes() -> list[tuple[str, str, Role | None]]:
    """(method, path, role) of every API route, as the app routes requests (the routers'
    own dependencies included). The console's pages are checked below, by their own
    guard (server.web.guard)."""
    return _all_routes(pages=False)


CONSOLE = "/console"
# Console pages anyone may open: signing in, out, and the language link.
CONSOLE_OPEN = {
    ("GET", "/console/sign-in"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("GET", "/console/language"),
}
# One's own password: every signed-in role, even one whose password is still to change.
CONSOLE_SELF = {("GET", "/console/password"), ("POST", "/console/password")}
ROUTES = _routes()
PAGES = _all_routes(pages=True)


def _url(path: str) -> str:
    """Valid-looking path parameters: ints 1, hut ids and tags "x"."""
    return re.sub(r"\{(\w*id)\}", "1", path).replace("{hut_id}", "x").replace("{tag}", "x")


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", _url(path))


def _streams() -> set[tuple[str, str]]:
    """The routes whose answer is an event stream, from the app."""
    return {
        (method, context.path)
        for context in iter_route_contexts(_app().routes)
        if isinstance(context.original_route, APIRoute)
        and _answers_with(context.original_route, EventSourceResponse)
        for method in context.methods or ()
    }


def _answers_with(route: APIRoute, kind: type[Response]) -> bool:
    declared = route.response_class
    actual = declared.value if isinstance(declared, DefaultPlaceholder) else declared
    return isinstance(actual, type) and issubclass(actual, kind)


def _ask(
    client: TestClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """The answer to ``method path``; for a stream, its status and headers only (read
    whole when it is an error, which is no stream)."""
    if (method, path) not in STREAMS:
        return client.request(method, _filled(path), json={}, headers=headers)
    with client.stream(method, _filled(path), headers=headers) as response:
        if response.status_code != 200:
            response.read()
        return response


@pytest.fixture
def client(engine: Engine, clock: MovableClock) -> Iterator[TestClient]:
    app = create_app(SETTINGS, clock=OffsetClock(clock), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_route_list_is_derived_and_complete() -> None:
    assert {weaker for *_, weaker in WEAKER} == {Role.VIEWER, Role.STAFF}
    paths = {(method, path) for method, path, _ in ROUTES}
    assert paths >= PUBLIC and paths >= SELF_SERVICE
    assert _streams() == STREAMS
    assert ("GET", "/api/v1/users") in paths and ("GET", "/api/v1/audit") in paths
    roles = {(method, path): role for method, path, role in ROUTES}
    assert roles[("GET", "/api/v1/users")] is Role.ADMIN
    assert roles[("POST", "/api/v1/loans/{loan_id}/renew")] is Role.STAFF
    assert roles[("GET", "/api/v1/sessions")] is Role.VIEWER
    assert roles[("GET", "/api/v1/clock")] is roles[("POST", "/api/v1/clock")] is Role.ADMIN
    assert {route: roles.get(route) for route in FLAGGED} == FLAGGED
    # Acting on a hut remotely is staff's; what became of a command, everyone's signed in.
    assert roles[("POST", "/api/v1/huts/{hut_id}/commands")] is Role.STAFF
    assert roles[("GET", "/api/v1/huts/{hut_id}/commands")] is Role.VIEWER
    assert roles[("GET", "/api/v1/commands/{command_id}")] is Role.VIEWER
    assert roles[("GET", "/metrics")] is Role.VIEWER  # operational detail: not for strangers
    assert not any(path.startswith(CONSOLE) for _, path, _ in ROUTES)


@pytest.mark.parametrize(("method", "path", "role"), ROUTES, ids=lambda v: str(v))
def test_signed_out_is_401_on_every_route_not_public(
    client: TestClient, method: str, path: str, role: Role | None
) -> None:
    response = _ask(client, method, path)
    if (method, path) in PUBLIC:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_write_needs_more_than_a_viewer() -> None:
    """Every route that changes something (not GET, not public, not one's own account)
    requires staff or admin."""
    loose = [
        (method, path)
        for method, path, role in ROUTES
        if method not in ("GET", "HEAD")
        and (method, path) not in PUBLIC | SELF_SERVICE
        and (role is None or role is Role.VIEWER)
    ]
    assert loose == []


WEAKER = [
    (method, path, role, weaker)
    for method, path, role in ROUTES
    if role is not None
    for weaker in Role
    if not weaker.allows(role)
]


@pytest.mark.parametrize(("method", "path", "role", "weaker"), WEAKER, ids=lambda v: str(v))
def test_a_weaker_role_is_403(
    client: TestClient,
    sessions: sessionmaker[Session],
    method: str,
    path: str,
    role: Role,
    weaker: Role,
) -> None:
    """A viewer on every staff and admin route, staff on every admin route."""
    headers = staff_headers(sessions, weaker)
    response = _ask(client, method, path, headers)
    assert response.status_code == 403, (method, path, response.text)
    assert "needs" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [r for r in ROUTES if r[2] is not None],
    ids=lambda v: str(v),
)
def test_the_allowed_role_gets_past_the_check(
    client: TestClient, sessions: sessionmaker[Session], method: str, path: str, role: Role
) -> None:
    """Not 401 or 403 for the role the route needs (so the checks above can fail)."""
    headers = staff_headers(sessions, role)
    response = _ask(client, method, path, headers)
    assert response.status_code not in (401, 403), (method, path, response.text)


def test_every_console_page_has_a_role_or_is_named_open() -> None:
    assert len(PAGES) > 20  # the console's pages were found
    unguarded = [
        (method, path)
        for method, path, role in PAGES
        if role is None and (method, path) not in CONSOLE_OPEN | CONSOLE_SELF
    ]
    assert unguarded == []
    loose = [
        (method, path)
        for method, path, role in PAGES
        if method not in ("GET", "HEAD")
        and (method, path) not in CONSOLE_OPEN | CONSOLE_SELF
        and role is not Role.STAFF
        and role is not Role.ADMIN
    ]
    assert loose == []  # a viewer changes nothing from the console either


@pytest.mark.parametrize(("method", "path", "role"), PAGES, ids=lambda v: str(v))
def test_signed_out_a_console_page_sends_to_sign_in(
    client: TestClient, method: str, path: str, role: Role | None
) -> None:
    if (method, path) in CONSOLE_OPEN:
        return
    response = client.request(method, _filled(path), follow_redirects=False)
    if method == "GET":
        assert response.status_code == 303, (method, path, response.text)
        assert response.headers["location"].startswith("/console/sign-in?next=")
    else:  # refused before anything is read: no session, no form token
        assert response.status_code in (303, 403), (method, path, response.text)
    assert "Traceback" not in response.text


PAGE_WEAKER = [
    (method, path, role, weaker)
    for method, path, role in PAGES
    if role is not None
    for weaker in Role
    if not weaker.allows(role)
]


@pytest.mark.parametrize(("method", "path", "role", "weaker"), PAGE_WEAKER, ids=lambda v: str(v))
def test_a_weaker_role_gets_the_403_page(
    client: TestClient,
    sessions: sessionmaker[Session],
    method: str,
    path: str,
    role: Role,
    weaker: Role,
) -> None:
    """A viewer on every staff page and form, staff on every admin page: a page that
    names the role, never a trace."""
    headers = staff_headers(sessions, weaker)
    response = client.request(method, _filled(path), headers=headers, follow_redirects=False)
    assert response.status_code == 403, (method, path, response.text)
    assert "text/html" in response.headers["content-type"]
    assert "Traceback" not in response.text
