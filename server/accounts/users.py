"""Staff accounts: created, found, and their password set."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.passwords import hash_password
from server.domain.roles import Role
from server.storage.staff_models import StaffUser


def find_user(db: Session, username: str) -> StaffUser | None:
    """The account of ``username``, matched without case (Zhang and zhang are one)."""
    return db.scalar(select(StaffUser).where(func.lower(StaffUser.username) == username.lower()))


def create_user(
    db: Session,
    *,
    username: str,
    password: str,
    role: Role,
    now: datetime,
    display_name: str | None = None,
    must_change_password: bool = True,
) -> StaffUser:
    """A new account (flushed, not committed). The caller checks the password's strength
    and that the username is free."""
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        created_at=now,
        password_changed_at=None if must_change_password else now,
    )
    db.add(user)
    db.flush()
    return user
