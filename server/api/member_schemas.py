"""What the members and cards routes answer (staff only: these hold personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Body
from pydantic import BaseModel, Field

from server.api.params import RequestBody
from server.storage.models import Card, Member
from server.storage.reminder_models import MemberContact


class CardOfMember(BaseModel):
    uid: str
    state: str  # active | lost
    bound_at: datetime | None

    @classmethod
    def of(cls, card: Card) -> CardOfMember:
        return cls(uid=card.uid, state=card.state.value, bound_at=card.bound_at)


class ContactStaff(BaseModel):
    channel: str
    address: str
    locale: str

    @classmethod
    def of(cls, contact: MemberContact) -> ContactStaff:
        return cls(channel=contact.channel, address=contact.address, locale=contact.locale)


class MemberSummary(BaseModel):
    """A member in a list (the id is what remind-now and the card routes take)."""

    id: int
    name: str
    building_unit: str
    phone: str | None
    language: str
    status: str  # active | suspended | left
    flags: list[str]
    huts: list[str]  # empty: every hut
    cards: int
    created_at: datetime | None
    erased: bool
    version: int

    @classmethod
    def of(cls, member: Member) -> MemberSummary:
        return cls(
            id=member.id,
            name=member.name,
            building_unit=member.building_unit,
            phone=member.phone,
            language=member.language,
            status=member.status.value,
            flags=sorted(member.flags),
            huts=sorted(member.huts),
            cards=len(member.cards),
            created_at=member.created_at,
            erased=member.erased_at is not None,
            version=member.version,
        )


class MemberStaff(BaseModel):
    """Everything about one member (the ETag is ``version``)."""

    id: int
    name: str
    building_unit: str
    phone: str | None
    language: str
    status: str
    status_reason: str | None
    flags: list[str]
    huts: list[str]
    contacts: list[ContactStaff]
    cards: list[CardOfMember]
    open_loans: int
    created_at: datetime | None
    left_at: datetime | None
    erased_at: datetime | None
    version: int

    @classmethod
    def of(cls, member: Member, *, contacts: list[MemberContact], open_loans: int) -> MemberStaff:
        return cls(
            id=member.id,
            name=member.name,
            building_unit=member.building_unit,
            phone=member.phone,
            language=member.language,
            status=member.status.value,
            status_reason=member.status_reason,
            flags=sorted(member.flags),
            huts=sorted(member.huts),
            contacts=[ContactStaff.of(c) for c in contacts],
            cards=[CardOfMember.of(c) for c in sorted(member.cards, key=lambda c: c.uid)],
            open_loans=open_loans,
            created_at=member.created_at,
            left_at=member.left_at,
            erased_at=member.erased_at,
            version=member.version,
        )


class CardListed(BaseModel):
    uid: str
    state: str
    bound_at: datetime | None
    member_id: int
    member_name: str
    member_status: str

    @classmethod
    def of(cls, card: Card) -> CardListed:
        return cls(
            uid=card.uid,
            state=card.state.value,
            bound_at=card.bound_at,
            member_id=card.member_id,
            member_name=card.member.name,
            member_status=card.member.status.value,
        )


class StatusReason(RequestBody):
    """Why (optional): kept with the status, shown to staff."""

    reason: str | None = Field(None, max_length=500)


OptionalReason = Annotated[StatusReason | None, Body()]
