"""The API's answers for the community's side: partner organisations and micro-wishes
(what staff send is server.records.partners' and server.records.wishes' field models)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from server.domain.wishes import WishChannel, WishOutcome, WishStatus
from server.storage.wish_models import Partner, Wish, WishRating


class PartnerRecord(BaseModel):
    id: int
    name: str
    services: str
    contact: str
    notes: str
    active: bool
    created_at: datetime
    version: int

    @classmethod
    def of(cls, row: Partner) -> PartnerRecord:
        return cls.model_validate(row, from_attributes=True)


class PartnerDetail(PartnerRecord):
    donated_items: list[str]  # tags
    fulfilled_wishes: list[int]


class RatingRecord(BaseModel):
    member_id: int
    score: int
    comment: str
    at: datetime

    @classmethod
    def of(cls, row: WishRating) -> RatingRecord:
        return cls.model_validate(row, from_attributes=True)


class WishRecord(BaseModel):
    id: int
    hut_id: str | None
    title: str
    detail: str
    channel: WishChannel
    proposed_by_id: int | None
    proposed_at: datetime
    status: WishStatus
    meeting_on: date | None
    decision: str | None
    deliberated_at: datetime | None
    outcome: WishOutcome | None
    outcome_note: str | None
    partner_id: int | None
    item_id: int | None
    handled_at: datetime | None
    evaluated_at: datetime | None
    supporters: int

    @classmethod
    def of(cls, row: Wish, *, supporters: int) -> WishRecord:
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "supporters"}
        return cls(**fields, supporters=supporters)


class WishDetail(WishRecord):
    supporter_ids: list[int]
    ratings: list[RatingRecord]
    average_score: float | None
