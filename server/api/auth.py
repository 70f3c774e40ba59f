"""The one authorisation check of every route: who is asking, and may they.

A request names its staff member with a personal API token (``Authorization: Bearer``)
or the console's session cookie. ``require(role)`` is the dependency every staff route
uses: 401 when nobody is signed in (or the credential is wrong or expired), 403 when the
signed-in role is not enough, the same answers on every route. A public route that shows
staff more reads ``OptionalPrincipalDep`` instead.

Wrong tokens from one address are throttled (429) before any lookup. A cookie-signed
request that changes something must come from this server's own pages (its Origin, when
the browser sends one, is this host), on top of the cookie's SameSite=Strict. An account
created with a password to change may do nothing else until it has.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.accounts.sessions import principal_of_session
from server.accounts.tokens import principal_of_token
from server.api.deps import DbDep, NowDep, SettingsDep, client_address
from server.api.throttle import TEXT_THROTTLED, FailureThrottle
from server.domain.actors import Actor
from server.domain.roles import Role
from toolhut.i18n import bilingual

SESSION_COOKIE = "toolhut_session"

# What the client reads: Chinese first, English beside it.
TEXT_SIGN_IN = bilingual("sign in first")
TEXT_BAD_TOKEN = bilingual("the token is not valid or has expired")
TEXT_ROLE = bilingual("your role may not do this (needs {role})")
TEXT_CHANGE_PASSWORD = bilingual("change the password you were given first")
TEXT_CROSS_SITE = bilingual("the request does not come from this site")

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="a personal API token (thk_...)")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="the console's session (sign in)"
)


def unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def same_origin(request: Request) -> bool:
    """False for a browser's request from another site's page."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # No Origin: not a browser's cross-site request (browsers send one with every
        # cross-origin POST/PUT/PATCH/DELETE); "null" from a sandboxed page is refused.
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def optional_principal(
    request: Request,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal | None:
    """The signed-in staff member, or None for an anonymous request. A wrong or expired
    token is refused (401), not downgraded to anonymous: an integration should hear that
    its token stopped working."""
    if credentials is not None:
        return _by_token(request, db, now, credentials.credentials)
    if cookie is None:
        return None
    principal = principal_of_session(db, cookie, now=now, settings=settings.accounts)
    cross_site = request.method not in _SAFE_METHODS and not same_origin(request)
    if principal is not None and cross_site:
        raise HTTPException(status.HTTP_403_FORBIDDEN, TEXT_CROSS_SITE)
    return principal


def throttled(wait: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, TEXT_THROTTLED, headers={"Retry-After": str(wait)}
    )


def _by_token(request: Request, db: Session, now: Any, secret: str) -> Principal:
    throttle: FailureThrottle = request.app.state.token_throttle
    address = client_address(request)
    wait = throttle.retry_after(address, now=now)
    if wait is not None:
        raise throttled(wait)
    principal = principal_of_token(db, secret, now=now)
    if principal is None:
        throttle.failed(address, now=now)
        raise unauthorised(TEXT_BAD_TOKEN)
    return principal


OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


def _signed_in(principal: OptionalPrincipalDep) -> Principal:
    if principal is None:
        raise unauthorised(TEXT_SIGN_IN)
    return principal


SignedInDep = Annotated[Principal, Depends(_signed_in)]
"""Any signed-in staff member, even one who must still change the password (for the
routes that let them: who am I, change password, sign out)."""


def require(role: Role) -> Any:
    """The dependency of a route for ``role`` and above; the route may also take
    ``PrincipalDep`` to know who is asking (FastAPI resolves it once per request)."""

    def check(principal: SignedInDep) -> Principal:
        if principal.must_change_password:
            raise HTTPException(status.HTTP_403_FORBIDDEN, TEXT_CHANGE_PASSWORD)
        if not principal.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, TEXT_ROLE.format(role=role.value))
        return principal

    check.__name__ = f"require_{role.value}"
    return Depends(check)


ViewerOnly = require(Role.VIEWER)
StaffOnly = require(Role.STAFF)
AdminOnly = require(Role.ADMIN)

ViewerDep = Annotated[Principal, ViewerOnly]
StaffDep = Annotated[Principal, StaffOnly]
AdminDep = Annotated[Principal, AdminOnly]


def actor_of(principal: Principal, request: Request) -> Actor:
    """Who the audit log names for this request."""
    return principal.actor(client_address(request))


def sees_personal_data(principal: Principal | None) -> bool:
    """Names, phones, flats and cards are for signed-in staff of any role."""
    return principal is not None and not principal.must_change_password
