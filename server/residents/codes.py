"""One-time sign-in codes for a resident's phone: 8 digits shown on the hut's display after
a card tap (or sent with a link through the member's reminder channel), valid for minutes,
used once. Only their hashes are stored; a code is redeemed by a conditional UPDATE, so two
phones typing the same code cannot both be signed in by it."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.domain.model import MemberStatus
from server.residents.config import ResidentSettings
from server.storage.models import Member
from server.storage.resident_models import ResidentCode

CODE_DIGITS = 8
LINK_PREFIX = "thl_"


class Via(StrEnum):
    HUT = "hut"  # on the hut's display, after the member's card tap
    CHANNEL = "channel"  # in a message through the member's own reminder channel


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expires_at: datetime
    link: str | None = None  # the link's secret, for a code sent in a message


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def shown(code: str) -> str:
    """``48291735`` as the display and messages show it: ``4829 1735``."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"


def normalized(text: str) -> str | None:
    """The code in what a resident typed: full-width digits (a Chinese keyboard's) and
    spaces or dashes allowed; None if it is not a code's shape."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch not in " -\u3000")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def _hash(kind: bytes, value: str) -> str:
    return hashlib.sha256(kind + b"\0" + value.encode()).hexdigest()


def issue(
    db: Session,
    *,
    member_id: int,
    via: Via,
    now: datetime,
    settings: ResidentSettings,
    hut_id: str | None = None,
    code: str | None = None,
) -> IssuedCode:
    """A new code for the member (``code`` given: that one, drawn by the caller); a code
    sent in a message also gets a link, which lasts longer. Not committed."""
    code = code or new_code()
    while _live(db, _hash(b"code", code), now) is not None:  # one live code, one member
        code = new_code()
    link = LINK_PREFIX + secrets.token_urlsafe(24) if via is Via.CHANNEL else None
    lasts = (
        timedelta(hours=settings.link_hours)
        if link is not None
        else timedelta(minutes=settings.code_minutes)
    )
    db.add(
        ResidentCode(
            code_hash=_hash(b"code", code),
            link_hash=None if link is None else _hash(b"link", link),
            member_id=member_id,
            via=via.value,
            hut_id=hut_id,
            created_at=now,
            expires_at=now + lasts,
        )
    )
    db.flush()
    return IssuedCode(code=code, expires_at=now + lasts, link=link)


def _live(db: Session, code_hash: str, now: datetime) -> ResidentCode | None:
    return db.scalar(
        select(ResidentCode).where(
            ResidentCode.code_hash == code_hash,
            ResidentCode.used_at.is_(None),
            ResidentCode.expires_at > now,
        )
    )


def redeem_code(db: Session, text: str, *, now: datetime, settings: ResidentSettings) -> int | None:
    """The member a typed code signs in (the code is used up), or None: not a code, wrong,
    expired, used, or the member has left. A code sent with a link is valid for
    ``code_minutes`` when typed, like a code on the display."""
    code = normalized(text)
    if code is None:
        return None
    row = _live(db, _hash(b"code", code), now)
    if row is None:
        return None
    if row.via == Via.CHANNEL and now >= row.created_at + timedelta(minutes=settings.code_minutes):
        return None
    return _use(db, row, now)


def redeem_link(db: Session, secret: str, *, now: datetime) -> int | None:
    """The member a sign-in link signs in (used up), or None."""
    if not secret.startswith(LINK_PREFIX):
        return None
    row = db.scalar(
        select(ResidentCode).where(
            ResidentCode.link_hash == _hash(b"link", secret),
            ResidentCode.used_at.is_(None),
            ResidentCode.expires_at > now,
        )
    )
    return None if row is None else _use(db, row, now)


def _use(db: Session, row: ResidentCode, now: datetime) -> int | None:
    used = db.execute(
        update(ResidentCode)
        .where(ResidentCode.id == row.id, ResidentCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    member = db.get(Member, row.member_id)
    if member is None or member.erased_at is not None or member.status == MemberStatus.LEFT:
        return None
    return row.member_id
