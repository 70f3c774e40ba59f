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


CONSOLE = "/console"  # the pages' own prefix (server/web)
RESIDENT = "/me"  # a resident's phone pages: their own sign-in, not a staff role


def _a_page(path: str) -> bool:
    """A console page or a resident's: a stranger gets a sign-in page there, not a 401
    (tests/server/web/test_page_roles.py, test_resident_page_roles.py)."""
    return path.startswith(CONSOLE) or path == RESIDENT or path.startswith(RESIDENT + "/")


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


def _routes() -> list[tuple[str, str, Role | None]]:
    """(method, path, role) of every API route, as the app routes requests (the routers'
    own dependencies included); not the pages (``_a_page``)."""
    return sorted(
        (method, context.path, required_role(context.dependant))
        for context in iter_route_contexts(_app().routes)
        if isinstance(context.original_route, APIRoute) and not _a_page(context.path)
        for method in context.methods or ()
    )


ROUTES = _routes()


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
