"""A resident's phone session: a random cookie value, its hash stored, weeks long (an
elderly resident should not have to sign in again every visit), ended by signing out, by
an idle spell, or when the member leaves or is erased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.accounts.secrets import new_secret, secret_hash
from server.domain.model import MemberStatus
from server.residents.config import ResidentSettings
from server.storage.models import Member
from server.storage.resident_models import ResidentCode, ResidentSession

RESIDENT_PREFIX = "thr_"
_TOUCH_EVERY = timedelta(hours=1)  # last_seen_at is written at most this often


@dataclass(frozen=True, slots=True)
class Resident:
    """Who a resident page is for: the member, never anyone else."""

    member_id: int
    session_id: int
    language: str  # the member's own (zh | en), for the page when the browser names none


def start(db: Session, member_id: int, *, now: datetime, settings: ResidentSettings) -> str:
    """A new session for the member; returns the cookie value (never stored). Not committed."""
    secret = new_secret(RESIDENT_PREFIX)
    db.add(
        ResidentSession(
            token_hash=secret_hash(secret),
            member_id=member_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=settings.session_days),
        )
    )
    db.flush()
    return secret


def resident_of(
    db: Session, secret: str, *, now: datetime, settings: ResidentSettings
) -> Resident | None:
    """The session's member while the session lives and the member has not left."""
    row = db.execute(
        select(ResidentSession, Member)
        .join(Member, ResidentSession.member_id == Member.id)
        .where(ResidentSession.token_hash == secret_hash(secret))
    ).first()
    if row is None:
        return None
    session, member = row
    idle_end = session.last_seen_at + timedelta(days=settings.session_idle_days)
    if (
        session.ended_at is not None
        or now >= session.expires_at
        or now >= idle_end
        or member.erased_at is not None
        or member.status == MemberStatus.LEFT
    ):
        return None
    if now - session.last_seen_at >= _TOUCH_EVERY:
        session.last_seen_at = now
        db.commit()
    return Resident(member_id=member.id, session_id=session.id, language=member.language)


def end(db: Session, secret: str, *, now: datetime) -> None:
    """Sign out: the cookie opens nothing from now on. Not committed."""
    db.execute(
        update(ResidentSession)
        .where(
            ResidentSession.token_hash == secret_hash(secret),
            ResidentSession.ended_at.is_(None),
        )
        .values(ended_at=now)
    )


def end_all_of(db: Session, member_id: int, *, now: datetime) -> None:
    """Every phone of the member signed out and every code of theirs void (the member left,
    was erased, or asked staff to). Not committed."""
    db.execute(
        update(ResidentSession)
        .where(ResidentSession.member_id == member_id, ResidentSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    db.execute(
        update(ResidentCode)
        .where(ResidentCode.member_id == member_id, ResidentCode.used_at.is_(None))
        .values(used_at=now)
    )
