"""Staff API payloads of the residents' ratings after a return: each rating (with the
member's name and comment: the staff side only) and the summaries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from server.storage.rating_models import LoanRating
from server.storage.rating_queries import RatedPlace, RatingSummary


class RatingOut(BaseModel):
    id: int
    loan_id: int
    item: str  # the tag
    item_name: str
    hut_id: str
    member_id: int
    member_name: str
    score: int
    comment: str
    source: str  # hut (a rating card) or phone
    rated_at: datetime

    @classmethod
    def of(
        cls, row: LoanRating, items: Mapping[int, tuple[str, str]], names: Mapping[int, str]
    ) -> RatingOut:
        tag, name = items.get(row.item_id, ("", ""))
        return cls(
            id=row.id,
            loan_id=row.loan_id,
            item=tag,
            item_name=name,
            hut_id=row.hut_id,
            member_id=row.member_id,
            member_name=names.get(row.member_id, ""),
            score=row.score,
            comment=row.comment,
            source=row.source.value,
            rated_at=row.rated_at,
        )


class RatedPlaceOut(BaseModel):
    """A hut (``id`` its id) or an item (``id`` its row id, ``tag``): how many ratings,
    their average, how many scored 2 or less."""

    id: str | int
    name: str
    tag: str | None
    count: int
    average: float
    low: int

    @classmethod
    def of(cls, place: RatedPlace) -> RatedPlaceOut:
        return cls(
            id=place.id, name=place.name, tag=place.tag, count=place.count,
            average=place.average, low=place.low,
        )  # fmt: skip


class RatingSummaryOut(BaseModel):
    """``spread``: how many of each score, by score; ``huts``/``items``: the ratings
    matching the filters, per hut and per item (the lowest average first)."""

    count: int
    average: float | None
    spread: dict[int, int]
    huts: list[RatedPlaceOut]
    items: list[RatedPlaceOut]

    @classmethod
    def of(
        cls, summary: RatingSummary, huts: list[RatedPlace], items: list[RatedPlace]
    ) -> RatingSummaryOut:
        return cls(
            count=summary.count,
            average=summary.average,
            spread=dict(summary.spread),
            huts=[RatedPlaceOut.of(place) for place in huts],
            items=[RatedPlaceOut.of(place) for place in items],
        )
