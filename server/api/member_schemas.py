"""What the members and cards routes answer (staff only: these hold personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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


class _MemberBase(BaseModel):
    id: int
    name: str
    building_unit: str
    phone: str | None
    language: str
    status: str  # active | suspended | left
    flags: list[str]
    huts: list[str]  # empty: every hut
    created_at: datetime | None
    version: int

    @staticmethod
    def fields_of(member: Member) -> dict[str, Any]:
        return {
            "id": member.id,
            "name": member.name,
            "building_unit": member.building_unit,
            "phone": member.phone,
            "language": member.language,
            "status": member.status.value,
            "flags": sorted(member.flags),
            "huts": sorted(member.huts),
            "created_at": member.created_at,
            "version": member.version,
        }


class MemberSummary(_MemberBase):
    """A member in a list (the id is what remind-now and the card routes take)."""

    cards: int
    erased: bool

    @classmethod
    def of(cls, member: Member) -> MemberSummary:
        return cls(
            **cls.fields_of(member), cards=len(member.cards), erased=member.erased_at is not None
        )


class MemberStaff(_MemberBase):
    """Everything about one member (the ETag is ``version``)."""

    status_reason: str | None
    contacts: list[ContactStaff]
    cards: list[CardOfMember]
    open_loans: int
    left_at: datetime | None
    erased_at: datetime | None

    @classmethod
    def of(cls, member: Member, *, contacts: list[MemberContact], open_loans: int) -> MemberStaff:
        return cls(
            **cls.fields_of(member),
            status_reason=member.status_reason,
            contacts=[ContactStaff.of(c) for c in contacts],
            cards=[CardOfMember.of(c) for c in sorted(member.cards, key=lambda c: c.uid)],
            open_loans=open_loans,
            left_at=member.left_at,
            erased_at=member.erased_at,
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
