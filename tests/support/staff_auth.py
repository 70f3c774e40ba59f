"""Staff accounts for tests: a user of each role and the header that signs a request in.

Tokens are made through the product's own server.accounts functions, so a test signs in
exactly as an integration does (Authorization: Bearer)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from server.accounts.tokens import issue_token
from server.accounts.users import create_user
from server.domain.roles import Role

_numbers = itertools.count(1)
# Far from any test clock's "now": tokens made here outlive every moved clock.
_ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "Correct-Horse-7-Battery"


def staff_headers(
    sessions: sessionmaker[Session], role: Role = Role.STAFF, *, username: str | None = None
) -> dict[str, str]:
    """A new account of ``role`` with an API token; the headers that act as it."""
    name = username or f"{role.value}-{next(_numbers)}"
    with sessions.begin() as db:
        user = create_user(
            db,
            username=name,
            password=PASSWORD,
            role=role,
            now=_ISSUED,
            must_change_password=False,
        )
        _, secret = issue_token(db, user, name="tests", now=_ISSUED, lifetime=timedelta(days=366))
    return {"Authorization": f"Bearer {secret}"}


def headers_in(db: Session, role: Role = Role.STAFF) -> dict[str, str]:
    """As staff_headers, inside the caller's transaction."""
    user = create_user(
        db,
        username=f"{role.value}-{next(_numbers)}",
        password=PASSWORD,
        role=role,
        now=_ISSUED,
        must_change_password=False,
    )
    _, secret = issue_token(db, user, name="tests", now=_ISSUED, lifetime=timedelta(days=366))
    return {"Authorization": f"Bearer {secret}"}
