"""Request dependencies, named so routes read like their signatures."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.settings import ServerSettings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False, description="the staff token (TOOLHUT_SERVER_STAFF_TOKEN)")


def is_staff(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """True for a request with the staff token; a wrong token is refused, not downgraded."""
    if credentials is None or settings.staff_token is None:
        return False
    if not secrets.compare_digest(
        credentials.credentials.encode(), settings.staff_token.get_secret_value().encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid staff token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return True


StaffDep = Annotated[bool, Depends(is_staff)]


def require_staff(staff: StaffDep) -> None:
    """For staff-only routes: no token is 401, like a wrong one."""
    if not staff:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "staff token required",
            headers={"WWW-Authenticate": "Bearer"},
        )


StaffOnly = Depends(require_staff)
