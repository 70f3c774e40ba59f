"""Members as staff keep them: create, edit, leave, find, list. No HTTP here (the API, the
member sheet and a script call the same functions); the caller commits.

What changes who may open a hut (the huts a member may open, their status, their cards)
goes through the rule book (server.access_actions); names, flats, phones, languages, flags
and contacts are the record's own and are written here. Each write appends its audit
entry; an edit is version-checked (storage.versioned).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from server import access_actions
from server.access_actions import TEXT_NO_MEMBER
from server.domain import MemberStatus
from server.domain.record_errors import FieldError, InvalidFieldsError
from server.records.member_fields import Contact, MemberCreate, MemberEdit, MemberFields
from server.residents.sessions import end_all_of
from server.staff_actions import NotFoundError
from server.storage.audit import Stamp
from server.storage.models import Card, Hut, Loan, Member, MemberFlagRow, MemberHut
from server.storage.reminder_models import MemberContact
from server.storage.versioned import update_versioned
from toolhut.i18n import bilingual

# What staff read: Chinese first, English beside it.
TEXT_NO_HUT = bilingual("no such hut: {hut}")
TEXT_NO_CHANNEL = bilingual("no such reminder channel: {channel!r} (one of {allowed})")

# The record's own columns an edit sets directly (huts and contacts have their own rows).
_COLUMNS = ("name", "building_unit", "phone", "language")


def get(db: Session, member_id: int) -> Member:
    member = db.get(Member, member_id)
    if member is None:
        raise NotFoundError(TEXT_NO_MEMBER.format(member_id=member_id))
    return member


def contacts_of(db: Session, member_id: int) -> list[MemberContact]:
    query = select(MemberContact).where(MemberContact.member_id == member_id)
    return list(db.scalars(query.order_by(MemberContact.channel)))


def open_loans(db: Session, member_id: int) -> int:
    query = select(func.count(Loan.id)).where(
        Loan.member_id == member_id, Loan.returned_at.is_(None), Loan.lost_at.is_(None)
    )
    return db.scalar(query) or 0


def values(member: Member, contacts: Iterable[MemberContact]) -> dict[str, Any]:
    """The member as the audit log keeps them (before and after an edit)."""
    return {
        "name": member.name,
        "building_unit": member.building_unit,
        "phone": member.phone,
        "language": member.language,
        "flags": member.flags,
        "huts": member.huts,
        "contacts": [
            {"channel": c.channel, "address": c.address, "locale": c.locale} for c in contacts
        ],
    }


# Checks against the database (what the fields cannot know alone).


def missing_huts(db: Session, huts: Collection[str]) -> set[str]:
    """The huts of ``huts`` that do not exist (one query, whatever their number)."""
    if not huts:
        return set()
    found = set(db.scalars(select(Hut.id).where(Hut.id.in_(sorted(huts)))))
    return set(huts) - found


def _check(
    db: Session,
    *,
    huts: Collection[str] | None,
    contacts: list[Contact] | None,
    channels: Collection[str] | None,
) -> None:
    errors = [
        FieldError("huts", TEXT_NO_HUT.format(hut=hut))
        for hut in sorted(missing_huts(db, huts or ()))
    ]
    if channels:  # the reminders' config names its channels: a contact is on one of them
        allowed = ", ".join(sorted(channels))
        errors += [
            FieldError(
                f"contacts.{n}.channel",
                TEXT_NO_CHANNEL.format(channel=contact.channel, allowed=allowed),
            )
            for n, contact in enumerate(contacts or ())
            if contact.channel not in channels
        ]
    if errors:
        raise InvalidFieldsError(errors)


def set_flags(member: Member, flags: frozenset[str]) -> None:
    member.flag_rows = [row for row in member.flag_rows if row.flag in flags]
    kept = {row.flag for row in member.flag_rows}
    member.flag_rows.extend(MemberFlagRow(flag=flag) for flag in sorted(flags - kept))


def _set_contacts(db: Session, member: Member, contacts: list[Contact]) -> None:
    current = {c.channel: c for c in contacts_of(db, member.id)}
    wanted = {c.channel: c for c in contacts}
    for channel, row in current.items():
        if channel not in wanted:
            db.delete(row)
    for channel, contact in wanted.items():
        row = current.get(channel) or MemberContact(member_id=member.id, channel=channel)
        db.add(row)
        row.address, row.locale = contact.address, contact.locale
    db.flush()


# Writes.


def new_member(fields: MemberFields, *, now: datetime) -> Member:
    """An active member with ``fields`` and their flags (not added to a session; the huts
    are the caller's: through the rule book, or with a member nobody's card names yet)."""
    member = Member(
        name=fields.name,
        building_unit=fields.building_unit,
        phone=fields.phone,
        language=fields.language,
        status=MemberStatus.ACTIVE,
        created_at=now,
    )
    set_flags(member, fields.flags)
    return member


def create(
    db: Session, body: MemberCreate, *, stamp: Stamp, channels: Collection[str] | None = None
) -> Member:
    _check(db, huts=body.huts, contacts=body.contacts, channels=channels)
    member = new_member(body, now=stamp.at)
    db.add(member)
    db.flush()
    _set_contacts(db, member, body.contacts)
    if body.huts:
        access_actions.set_member_huts(db, member_id=member.id, huts=body.huts)
    after = values(member, contacts_of(db, member.id))
    stamp.record(db, action="member.create", entity="member", entity_id=member.id, after=after)
    return member


def edit(
    db: Session,
    member_id: int,
    body: MemberEdit,
    *,
    expected: int,
    stamp: Stamp,
    channels: Collection[str] | None = None,
) -> Member:
    """The fields ``body`` gives, if the member is still at version ``expected``
    (StaleVersionError otherwise); nothing is written when a check fails."""
    member = get(db, member_id)
    access_actions.refuse_erased(member)
    given = body.model_fields_set - {"version"}
    _check(
        db,
        huts=body.huts if "huts" in given else None,
        contacts=body.contacts if "contacts" in given else None,
        channels=channels,
    )
    contacts = contacts_of(db, member_id)
    before = values(member, contacts)
    columns = {name: getattr(body, name) for name in _COLUMNS if name in given}
    for required in ("name", "building_unit", "language"):
        if required in columns and columns[required] is None:
            raise InvalidFieldsError([FieldError(required, bilingual("may not be null"))])
    update_versioned(db, member, expected=expected, values=columns)
    if body.flags is not None:
        set_flags(member, body.flags)
    if body.contacts is not None:
        _set_contacts(db, member, body.contacts)
    if body.huts is not None:
        access_actions.set_member_huts(db, member_id=member_id, huts=body.huts)
    db.flush()
    after = values(member, contacts_of(db, member_id))
    changed = {key for key in after if after[key] != before[key]}
    stamp.record(
        db,
        action="member.update",
        entity="member",
        entity_id=member_id,
        before={key: before[key] for key in sorted(changed)},
        after={key: after[key] for key in sorted(changed)},
    )
    return member


def leave(db: Session, member_id: int, *, reason: str | None, stamp: Stamp) -> Member:
    """The member moved away: see access_actions.member_leaves."""
    get(db, member_id)
    member = access_actions.member_leaves(
        db, member_id=member_id, at=stamp.at, reason=reason, stamp=stamp
    )
    end_all_of(db, member_id, now=stamp.at)  # their phones signed out with their cards
    return member


# Lists.


def containing(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere (its own % and _ taken literally; escape \\)."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_query(
    *,
    q: str | None = None,
    status: MemberStatus | None = None,
    hut: str | None = None,
    flag: str | None = None,
) -> Select[Any]:
    """Members matching every filter given: ``q`` in the name, phone, flat or a card's UID;
    ``hut``: who may open it (listed for it, or for every hut)."""
    query = select(Member).options(selectinload(Member.cards), selectinload(Member.hut_rows))
    if q:
        like = containing(q.lower())
        card_like = select(Card.id).where(
            Card.member_id == Member.id, Card.uid.like(containing(q.upper()), escape="\\")
        )
        query = query.where(
            or_(
                func.lower(Member.name).like(like, escape="\\"),
                func.lower(Member.building_unit).like(like, escape="\\"),
                Member.phone.like(containing(q.replace(" ", "")), escape="\\"),
                exists(card_like),
            )
        )
    if status is not None:
        query = query.where(Member.status == status)
    if hut is not None:
        listed = select(MemberHut.hut_id).where(MemberHut.member_id == Member.id)
        query = query.where(or_(~exists(listed), exists(listed.where(MemberHut.hut_id == hut))))
    if flag is not None:
        flagged = select(MemberFlagRow.flag).where(
            MemberFlagRow.member_id == Member.id, MemberFlagRow.flag == flag
        )
        query = query.where(exists(flagged))
    return query


SORTS: Mapping[str, Any] = {
    "id": Member.id,
    "name": Member.name,
    "building_unit": Member.building_unit,
    "created_at": Member.created_at,
}
