"""Who may use each of a resident's phone pages (``/me...``), derived from the app (pages
other work adds are checked without this file changing): every one but signing in needs
the resident's own signed-in phone, and a stranger is sent to sign in and writes nothing.
The console's pages are test_page_roles.py's, the API's tests/server/test_route_roles.py's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.settings import ServerSettings
from server.storage import make_engine
from server.storage.models import Base
from tests.support.console import Console

# Where a phone signs in (and out): open to a stranger.
OPEN = {
    ("GET", "/me/sign-in"),
    ("POST", "/me/sign-in"),
    ("GET", "/me/link/{secret}"),
    ("POST", "/me/link"),
    ("POST", "/me/sign-out"),
    ("POST", "/me/sign-in/message"),  # a code by message: the same answer to anyone
    # Posted from an item's public page: a stranger is sent to sign in first, and nothing
    # is written (resident_waiting checks the resident itself, to come back to the item).
    ("POST", "/me/waiting"),
    ("POST", "/me/waiting/leave"),
}
SIGNED_IN = "_signed_in"  # server.web.resident_guard's dependency behind SignedInResident


def _calls(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield getattr(sub.call, "__name__", "")
        yield from _calls(sub)


def _pages() -> list[tuple[str, str, bool]]:
    """(method, path, whether it needs a signed-in resident) of every /me page."""
    app = create_app(ServerSettings(db_url="sqlite://"), engine=make_engine("sqlite://"))
    return sorted(
        (method, context.path, SIGNED_IN in set(_calls(context.dependant)))
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and (context.path == "/me" or context.path.startswith("/me/"))
        for method in context.methods or ()
    )


PAGES = _pages()


def test_every_resident_page_but_signing_in_needs_the_signed_in_phone() -> None:
    assert {(method, path) for method, path, _ in PAGES} >= OPEN
    assert ("GET", "/me/wishes", True) in PAGES
    loose = [(m, p) for m, p, signed_in in PAGES if not signed_in and (m, p) not in OPEN]
    assert loose == []


def _rows(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as db:
        tables = inspect(db.get_bind()).get_table_names()
        return {
            name: db.query(table).count()
            for name, table in Base.metadata.tables.items()
            if name in tables and name != "alembic_version"
        }


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, signed_in in PAGES if signed_in], ids=str
)
def test_a_stranger_is_sent_to_sign_in_and_writes_nothing(
    browser: Callable[[], Console], sessions: sessionmaker[Session], method: str, path: str
) -> None:
    stranger = browser()
    stranger.get("/me/sign-in")  # a token of its own, so the form's check passes
    before = _rows(sessions)
    url = re.sub(r"\{[^}]+\}", "1", path)
    if method == "GET":
        answer = stranger.client.get(url, follow_redirects=False)
    else:
        answer = stranger.post(url, {"title": "x", "score": "5"})
    assert answer.status_code == 303, (method, path, answer.text)
    assert answer.headers["location"].startswith("/me/sign-in?next=")
    assert _rows(sessions) == before
