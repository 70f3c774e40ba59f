"""Who a resident page is for: the member whose phone holds a live resident session.
Nobody signed in: a redirect to the sign-in page, which comes back after. A page for a
resident shows that member's own data and nobody else's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import RedirectResponse, Response

from server.api.deps import DbDep, NowDep, SettingsDep, client_address
from server.domain.actors import Actor
from server.residents.config import MY_PAGE
from server.residents.sessions import Resident, resident_of
from server.storage.audit import Stamp
from server.web.resident_cookie import RESIDENT_COOKIE

RESIDENT_HOME = MY_PAGE
RESIDENT_SIGN_IN = "/me/sign-in"


class ResidentSignInNeeded(Exception):
    def __init__(self, target: str) -> None:
        self.target = target


def optional_resident(
    request: Request, db: DbDep, now: NowDep, settings: SettingsDep
) -> Resident | None:
    secret = request.cookies.get(RESIDENT_COOKIE)
    if not secret:
        return None
    return resident_of(db, secret, now=now, settings=settings.residents)


OptionalResident = Annotated[Resident | None, Depends(optional_resident)]


def _signed_in(request: Request, resident: OptionalResident) -> Resident:
    if resident is None:
        query = request.url.query
        raise ResidentSignInNeeded(request.url.path + (f"?{query}" if query else ""))
    return resident


SignedInResident = Annotated[Resident, Depends(_signed_in)]


def stamp_of(request: Request, resident: Resident, now: datetime) -> Stamp:
    """Who writes, for the audit log: the member on their own phone (``member:<id>``)."""
    return Stamp(Actor(f"member:{resident.member_id}", address=client_address(request)), now)


def install(app: FastAPI) -> None:
    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ResidentSignInNeeded)
        return RedirectResponse(
            f"{RESIDENT_SIGN_IN}?next={quote(exc.target, safe='/')}", status.HTTP_303_SEE_OTHER
        )

    app.add_exception_handler(ResidentSignInNeeded, sign_in_needed)
