"""Request dependencies, named so routes read like their signatures."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.api.throttle import TEXT_THROTTLED, FailureThrottle
from server.settings import ServerSettings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as db:
        yield db


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


DbDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False, description="the staff token (TOOLHUT_SERVER_STAFF_TOKEN)")


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: what uvicorn's forwarded_allow_ips trusts)."""
    return request.client.host if request.client is not None else "unknown"


def is_staff(
    request: Request,
    settings: SettingsDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> bool:
    """True for a request with the staff token; a wrong token is refused, not downgraded,
    and too many wrong ones from one address are throttled (429) before any comparison."""
    if credentials is None or settings.staff_token is None:
        return False
    throttle: FailureThrottle = request.app.state.token_throttle
    address = client_address(request)
    wait = throttle.retry_after(address, now=now)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, TEXT_THROTTLED, headers={"Retry-After": str(wait)}
        )
    if not secrets.compare_digest(
        credentials.credentials.encode(), settings.staff_token.get_secret_value().encode()
    ):
        throttle.failed(address, now=now)
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
