"""The rows of residents' one-time sign-in codes: drawing a code no live one shares,
hashing, storing (only hashes), and finding a live one. server/residents/codes.py issues
and redeems codes on top of these; the effect writer stores the hut display's."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.sign_in import CODE_DIGITS
from server.storage.resident_models import ResidentCode

DEFAULT_CODE_MINUTES = 10  # ResidentSettings.code_minutes' default


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


@dataclass(frozen=True, slots=True)
class SignInCodes:
    """How the loader draws a display code for the phone sign-in card: ``draw`` (tests
    inject a known one) and how long it lasts (``ResidentSettings.code_minutes``)."""

    minutes: int = DEFAULT_CODE_MINUTES
    draw: Callable[[], str] = new_code


DISPLAY_CODES = SignInCodes()


def hashed(kind: bytes, value: str) -> str:
    return hashlib.sha256(kind + b"\0" + value.encode()).hexdigest()


def code_hash(code: str) -> str:
    return hashed(b"code", code)


def live(db: Session, hash_: str, now: datetime) -> ResidentCode | None:
    """The unused, unexpired code of that hash (there is at most one)."""
    return db.scalar(
        select(ResidentCode).where(
            ResidentCode.code_hash == hash_,
            ResidentCode.used_at.is_(None),
            ResidentCode.expires_at > now,
        )
    )


def fresh(db: Session, now: datetime, draw: Callable[[], str] = new_code) -> str:
    """A code no live code shares (one live code, one member)."""
    code = draw()
    while live(db, code_hash(code), now) is not None:
        code = new_code()
    return code


def store(
    db: Session,
    *,
    code: str,
    member_id: int,
    via: str,
    now: datetime,
    expires_at: datetime,
    hut_id: str | None = None,
    link: str | None = None,
) -> None:
    """The code's row (its hash, and its link's): added, not flushed."""
    db.add(
        ResidentCode(
            code_hash=code_hash(code),
            link_hash=None if link is None else hashed(b"link", link),
            member_id=member_id,
            via=via,
            hut_id=hut_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
