"""Tables of the staff side: accounts, their console sessions and API tokens, and the
audit log of every staff write.

Secrets are never stored: a session's or a token's row holds the SHA-256 of the random
value the client holds (the value has 256 bits of entropy, so a fast hash is enough); a
password's row holds its argon2 hash (server.accounts.passwords).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.roles import Role
from server.storage.coltypes import UtcDateTime
from server.storage.models import Base, checked_enum


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(checked_enum(Role, name="role"))
    password_hash: Mapped[str] = mapped_column(Text)
    # Created by an admin (or by the demo): the first sign-in must set a new password.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Disabled accounts keep their rows (the audit log names them) and sign in no more.
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)


class StaffSession(Base):
    """A signed-in console: the cookie holds the token, this row its hash."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Absolute end, whatever the activity; the idle end is last_seen_at + the idle setting.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)

    user: Mapped[StaffUser] = relationship()


class ApiToken(Base):
    """A personal API token for an integration: named, shown once, revocable, expiring."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so a list can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    user: Mapped[StaffUser] = relationship()


class AuditEntry(Base):
    """One staff write: who, when, what, the record before and after. Appended only; the
    one rewrite is erasure, which replaces an erased member's personal values here too."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    # The account's username, "cli:<os user>" for the command line, "system" for the server.
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))  # member.update, item.status ...
    entity: Mapped[str] = mapped_column(String(32))  # member, item, hut, user ...
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)

    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)
