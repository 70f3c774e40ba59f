"""One-time sign-in codes for a resident's phone: 8 digits shown on the hut's display after
a card tap (or sent with a link through the member's reminder channel), valid for minutes,
used once. Only their hashes are stored; a code is redeemed by a conditional UPDATE, so two
phones typing the same code cannot both be signed in by it."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.domain.model import MemberStatus
from server.domain.sign_in import CODE_DIGITS, Via, shown
from server.residents.config import ResidentSettings
from server.storage.models import Member
from server.storage.resident_codes import code_hash, fresh, hashed, live, new_code, store
from server.storage.resident_models import ResidentCode

LINK_PREFIX = "thl_"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expires_at: datetime
    link: str | None = None  # the link's secret, for a code sent in a message


def normalized(text: str) -> str | None:
    """The code in what a resident typed: full-width digits (a Chinese keyboard's) and
    spaces or dashes allowed; None if it is not a code's shape."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch not in " -\u3000")
    if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits


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
    given = code
    code = fresh(db, now, new_code if given is None else (lambda: given))
    link = LINK_PREFIX + secrets.token_urlsafe(24) if via is Via.CHANNEL else None
    lasts = (
        timedelta(hours=settings.link_hours)
        if link is not None
        else timedelta(minutes=settings.code_minutes)
    )
    store(
        db,
        code=code,
        member_id=member_id,
        via=via.value,
        now=now,
        expires_at=now + lasts,
        hut_id=hut_id,
        link=link,
    )
    db.flush()
    return IssuedCode(code=code, expires_at=now + lasts, link=link)


def redeem_code(db: Session, text: str, *, now: datetime, settings: ResidentSettings) -> int | None:
    """The member a typed code signs in (the code is used up), or None: not a code, wrong,
    expired, used, or the member has left. A code sent with a link is valid for
    ``code_minutes`` when typed, like a code on the display."""
    code = normalized(text)
    if code is None:
        return None
    row = live(db, code_hash(code), now)
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
            ResidentCode.link_hash == hashed(b"link", secret),
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


__all__ = [
    "CODE_DIGITS",
    "LINK_PREFIX",
    "IssuedCode",
    "Via",
    "issue",
    "new_code",
    "normalized",
    "redeem_code",
    "redeem_link",
    "shown",
]
