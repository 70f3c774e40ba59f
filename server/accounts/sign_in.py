"""Checking a username and password. An unknown name, a wrong password and a disabled
account are one answer (None), reached with the same work: an unknown name is verified
against a dummy hash, so the time taken tells nothing either."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.accounts.passwords import hash_password, needs_rehash, verify_password
from server.accounts.users import find_user
from server.storage.staff_models import StaffUser

# Made once, with today's parameters: verifying against it costs what a real check does.
_DUMMY_HASH = hash_password("no account has this password: it only costs time")


def authenticate(db: Session, username: str, password: str, *, now: datetime) -> StaffUser | None:
    """The enabled account whose password this is, its last sign-in set (and its hash
    renewed if made with weaker parameters); None otherwise. The caller commits."""
    user = find_user(db, username)
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or user.disabled_at is not None:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = now
    return user
