"""Console sessions: a random cookie value, its hash stored, an idle and an absolute end."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.config import AccountSettings
from server.accounts.principal import Principal, Via
from server.accounts.secrets import SESSION_PREFIX, new_secret, secret_hash
from server.storage.staff_models import StaffSession, StaffUser

# last_seen_at is written at most this often: not every page view is a write.
_TOUCH_EVERY = timedelta(minutes=1)


def start_session(
    db: Session,
    user: StaffUser,
    *,
    now: datetime,
    settings: AccountSettings,
    address: str | None = None,
) -> tuple[StaffSession, str]:
    """A new session for ``user``; returns its row and the cookie value (never stored)."""
    secret = new_secret(SESSION_PREFIX)
    row = StaffSession(
        token_hash=secret_hash(secret),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_hours),
        address=address,
    )
    db.add(row)
    db.flush()
    return row, secret


def principal_of_session(
    db: Session, secret: str, *, now: datetime, settings: AccountSettings
) -> Principal | None:
    """The session's account while the session lives (not ended, not idle too long, not
    past its absolute end) and the account is enabled; None otherwise."""
    row = db.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffSession.user_id == StaffUser.id)
        .where(StaffSession.token_hash == secret_hash(secret))
    ).first()
    if row is None:
        return None
    session, user = row
    idle_end = session.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if (
        session.ended_at is not None
        or now >= session.expires_at
        or now >= idle_end
        or user.disabled_at is not None
    ):
        return None
    if now - session.last_seen_at >= _TOUCH_EVERY:
        session.last_seen_at = now
        db.commit()
    return Principal.of(user, via=Via.SESSION, credential_id=session.id)


def end_session(db: Session, secret: str, *, now: datetime) -> None:
    """Sign out: the cookie's session opens nothing from now on."""
    session = db.scalar(select(StaffSession).where(StaffSession.token_hash == secret_hash(secret)))
    if session is not None and session.ended_at is None:
        session.ended_at = now


def end_sessions_of(db: Session, user_id: int, *, now: datetime, keep: int | None = None) -> None:
    """Every session of the account ends (password changed or reset, account disabled),
    but the one whose id is ``keep`` (the request that changed the password)."""
    query = select(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    for session in db.scalars(query):
        session.ended_at = now
