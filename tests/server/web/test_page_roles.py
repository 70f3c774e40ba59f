"""Who may use each console page, derived from the app (pages other work adds are checked
without this file changing): every write needs staff or more, a stranger is sent to sign
in, and a viewer posting to any staff page anyway gets the 403 page and changes nothing.
The JSON API's routes are tests/server/test_route_roles.py's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from server.app import create_app
from server.domain.roles import Role
from server.settings import ServerSettings
from server.storage import make_engine
from tests.support.console import Console

CONSOLE = "/console"
# Pages for everyone, or for one's own account whatever the role.
OPEN = {("GET", "/console/sign-in"), ("POST", "/console/sign-in"), ("GET", "/console/language")}
OWN_ACCOUNT = {
    ("POST", "/console/sign-out"),
    ("GET", "/console/password"),
    ("POST", "/console/password"),
}


def _calls(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield getattr(sub.call, "__name__", "")
        yield from _calls(sub)


def _page_role(dependant: Dependant) -> Role | None:
    roles = [Role(n.removeprefix("page_")) for n in _calls(dependant) if n.startswith("page_")]
    return max(roles, key=lambda role: role.rank, default=None)


def _pages() -> list[tuple[str, str, Role | None]]:
    app = create_app(ServerSettings(db_url="sqlite://"), engine=make_engine("sqlite://"))
    return sorted(
        (method, context.path, _page_role(context.dependant))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute) and context.path.startswith(CONSOLE)
        for method in context.methods or ()
    )


PAGES = _pages()


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_console_write_needs_staff_and_every_page_a_role() -> None:
    assert PAGES, "no console page found"
    for method, path, role in PAGES:
        if (method, path) in OPEN | OWN_ACCOUNT:
            continue
        assert role is not None, (method, path)
        if method != "GET":
            assert role.rank >= Role.STAFF.rank, (method, path, role)


def test_a_stranger_is_sent_to_sign_in_from_every_page(browser: Callable[[], Console]) -> None:
    console = browser()
    for method, path, _role in PAGES:
        if method != "GET" or (method, path) in OPEN:
            continue
        answer = console.client.get(_filled(path), follow_redirects=False)
        assert answer.status_code == 303, (path, answer.status_code)
        assert answer.headers["location"].startswith("/console/sign-in"), path


def test_a_viewer_posting_to_any_staff_page_gets_the_403_page(
    signed_in: Callable[[Role], Console],
) -> None:
    viewer = signed_in(Role.VIEWER)
    viewer.get("/console/password")  # a page with a form: its token
    for method, path, role in PAGES:
        if method != "POST" or role is None or role.rank < Role.STAFF.rank:
            continue
        answer = viewer.post(_filled(path), {"note": "x", "reason": "x", "uid": "04A1B2C3"})
        assert answer.status_code == 403, (path, answer.status_code)
        assert "Traceback" not in answer.text


def test_a_weaker_role_gets_the_403_page_on_every_page_above_it(
    signed_in: Callable[[Role], Console],
) -> None:
    """A viewer on every staff page, staff on every admin page (users, audit): the page
    that names the role needed, never a trace."""
    for weaker in (Role.VIEWER, Role.STAFF):
        console = signed_in(weaker)
        for method, path, role in PAGES:
            if method != "GET" or role is None or weaker.allows(role):
                continue
            answer = console.get(_filled(path))
            assert answer.status_code == 403, (weaker, path, answer.status_code)
            assert "text/html" in answer.headers["content-type"]
            assert "Traceback" not in answer.text
