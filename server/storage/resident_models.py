"""A resident's phone, signed in without a password: one-time sign-in codes (shown on the
hut's display after a card tap, or sent through the member's own reminder channel) and
the sessions they open. Only hashes are stored, as for staff sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.coltypes import UtcDateTime
from server.storage.models import Base


class ResidentCode(Base):
    """A one-time code (and, when sent, the link that carries it): valid until
    ``expires_at``, used once. ``via``: hut (the display) or channel (a message)."""

    __tablename__ = "resident_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    via: Mapped[str] = mapped_column(String(16))
    hut_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (Index("ix_resident_codes_code_hash", "code_hash"),)


class ResidentSession(Base):
    """A resident's signed-in phone: the cookie holds the secret, this row its hash."""

    __tablename__ = "resident_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
