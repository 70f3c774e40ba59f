"""Staff accounts for tests: a user of each role and the header that signs a request in.

Tokens are made through the product's own server.accounts functions, so a test signs in
exactly as an integration does (Authorization: Bearer)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.accounts.secrets import secret_hash
from server.accounts.tokens import issue_token
from server.accounts.users import create_user
from server.domain.roles import Role
from server.storage.staff_models import ApiToken, StaffUser

_numbers = itertools.count(1)
# Before any test clock's "now", and an end past any (the real clock's too: a product
# token lasts 366 days at most, so the helper moves its end itself).
_ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
_ENDS = datetime(2100, 1, 1, tzinfo=UTC)
PASSWORD = "Correct-Horse-7-Battery"


def staff_headers(
    sessions: sessionmaker[Session], role: Role = Role.STAFF, *, username: str | None = None
) -> dict[str, str]:
    """A new account of ``role`` with an API token; the headers that act as it."""
    with sessions.begin() as db:
        return headers_of(db, new_user(db, role, username=username))


def new_user(
    db: Session, role: Role, *, username: str | None = None, must_change_password: bool = False
) -> StaffUser:
    """A new account of ``role`` whose password is PASSWORD."""
    return create_user(
        db,
        username=username or f"{role.value}-{next(_numbers)}",
        password=PASSWORD,
        role=role,
        now=_ISSUED,
        must_change_password=must_change_password,
    )


def headers_of(db: Session, user: StaffUser) -> dict[str, str]:
    """The headers of a new token of ``user``, valid for as long as any test runs."""
    token, secret = issue_token(db, user, name="tests", now=_ISSUED, lifetime=timedelta(days=1))
    token.expires_at = _ENDS
    return {"Authorization": f"Bearer {secret}"}


def headers_in(db: Session, role: Role = Role.STAFF) -> dict[str, str]:
    """As staff_headers, inside the caller's transaction."""
    return headers_of(db, new_user(db, role))


def staff_name(sessions: sessionmaker[Session], headers: dict[str, str]) -> str:
    """The username of the account whose token ``headers`` carry (as the audit names it)."""
    secret = headers["Authorization"].removeprefix("Bearer ")
    with sessions() as db:
        user = db.scalars(
            select(StaffUser)
            .join(ApiToken, ApiToken.user_id == StaffUser.id)
            .where(ApiToken.token_hash == secret_hash(secret))
        ).one()
        return user.username
