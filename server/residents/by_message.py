"""A sign-in code (and link) by message: the resident types their phone number on the
sign-in page; each member with that number and a contact on a configured channel that
reaches them alone (e-mail, SMS, a WeCom user: a channel with an address) gets a code
of their own, queued on the reminders' delivery path in the member's language.

Whether a number matched is never told: the page says the same either way, and no log
line names the number or the member. At most ``MESSAGES_PER_HOUR`` codes a member an
hour, counted in the database (every server process sees them)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.domain.model import MemberStatus
from server.domain.reminders import SIGN_IN_STAGE, Audience
from server.domain.sign_in import Via, shown
from server.reminders import payloads
from server.reminders.targets import Recipients, Target, delivery_rows
from server.residents import codes
from server.residents.config import ResidentSettings
from server.storage import reminder_queries as rq
from server.storage.models import Member
from server.storage.reminder_models import MemberContact
from server.storage.resident_models import ResidentCode

MESSAGES_PER_HOUR = 3  # codes by message a member an hour; more are not sent (nor said)
MAX_MEMBERS = 3  # a number a household shares: a code each, to so many at most
SIGN_IN_TEMPLATE = "sign_in"


def send_codes(
    db: Session,
    phone: str,
    *,
    now: datetime,
    settings: ResidentSettings,
    recipients: Recipients,
    base_url: str,
) -> list[int]:
    """Queue a code and link for each member whose phone is ``phone`` (as stored:
    ``member_fields.phone_number``'s form); the messages' ids, maybe none. Not committed."""
    members = list(
        db.scalars(
            select(Member)
            .where(
                Member.phone == phone,
                Member.erased_at.is_(None),
                Member.status != MemberStatus.LEFT,
            )
            .order_by(Member.id)
            .limit(MAX_MEMBERS)
        )
    )
    contacts = rq.contacts_of(db, [member.id for member in members])
    queued = []
    for member in members:
        target = _target(recipients, contacts.get(member.id, {}), member.language)
        if target is None or _sent_lately(db, member.id, now) >= MESSAGES_PER_HOUR:
            continue
        issued = codes.issue(db, member_id=member.id, via=Via.CHANNEL, now=now, settings=settings)
        assert issued.link is not None
        queued.append(_queue(db, member, target, issued, now=now, base_url=base_url))
    return queued


def _target(
    recipients: Recipients, contacts: Mapping[str, MemberContact], language: str
) -> Target | None:
    """The member's first configured channel that reaches them alone, in their language
    (a group bot or the hut display is never one: a code there is anybody's)."""
    own = [name for name, channel in recipients.channels.items() if channel.needs_address]
    targets = recipients.targets(Audience.MEMBER, own, contacts)
    if not targets:
        return None
    name, address, _locale = targets[0]
    return (name, address, language)


def _sent_lately(db: Session, member_id: int, now: datetime) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(ResidentCode)
            .where(
                ResidentCode.member_id == member_id,
                ResidentCode.via == Via.CHANNEL.value,
                ResidentCode.created_at > now - timedelta(hours=1),
            )
        )
        or 0
    )


def _queue(
    db: Session,
    member: Member,
    target: Target,
    issued: codes.IssuedCode,
    *,
    now: datetime,
    base_url: str,
) -> int:
    new = rq.NewMessage(
        stage=SIGN_IN_STAGE,
        template=SIGN_IN_TEMPLATE,
        audience=Audience.MEMBER.value,
        member_id=member.id,
        hut_id=None,
        claims=[rq.NewClaim(f"{SIGN_IN_STAGE}:{secrets.token_hex(8)}", None)],
    )
    [created] = rq.create_messages(db, [new], now=now)
    assert created is not None  # a fresh subject: nobody else can hold its claim
    message_id, _ = created
    link = f"{base_url.rstrip('/')}/me/link/{issued.link}"
    code = shown(issued.code)
    entry = payloads.AlertEntry(code, code, issued.expires_at, link, link)
    rq.set_payload(db, message_id, payloads.to_json([entry]))
    rq.add_deliveries(db, delivery_rows(message_id, [target]), first_attempt_at=now)
    return message_id


__all__ = ["MAX_MEMBERS", "MESSAGES_PER_HOUR", "send_codes"]
