"""The ratings as staff read them: a filtered list (the API's and the console's), and
summaries per item and per hut (how many, the average, how the scores spread, the
latest comments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from server.domain.ratings import LOW_SCORE, SCORES
from server.storage.models import Hut, Item
from server.storage.rating_models import LoanRating

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


@dataclass(frozen=True, slots=True)
class RatingFilter:
    """Each field narrows the list when set; ``since`` inclusive, ``until`` exclusive."""

    hut_id: str | None = None
    item_id: int | None = None
    score: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def month_range(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month ``YYYY-MM`` in ``zone``, as [start, end)."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def ratings(wanted: RatingFilter) -> Select[Any]:
    """The ratings ``wanted`` names, unordered (the caller sorts)."""
    query = select(LoanRating)
    for column, value in (
        (LoanRating.hut_id, wanted.hut_id),
        (LoanRating.item_id, wanted.item_id),
        (LoanRating.score, wanted.score),
    ):
        if value is not None:
            query = query.where(column == value)
    if wanted.since is not None:
        query = query.where(LoanRating.rated_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(LoanRating.rated_at < wanted.until)
    return query


@dataclass(frozen=True, slots=True)
class RatingSummary:
    """``spread``: how many of each score, 5 first; ``comments``: the latest with one."""

    count: int = 0
    average: float | None = None
    spread: tuple[tuple[int, int], ...] = tuple((score, 0) for score in reversed(SCORES))
    comments: tuple[LoanRating, ...] = field(default_factory=tuple)


def summary(db: Session, wanted: RatingFilter, *, comments: int = 5) -> RatingSummary:
    base = ratings(wanted).subquery()
    counts: dict[int, int] = {
        score: n
        for score, n in db.execute(select(base.c.score, func.count()).group_by(base.c.score))
    }
    count = sum(counts.values())
    if not count:
        return RatingSummary()
    average = sum(score * n for score, n in counts.items()) / count
    latest = ratings(wanted).where(LoanRating.comment != "")
    latest = latest.order_by(LoanRating.rated_at.desc(), LoanRating.id.desc()).limit(comments)
    return RatingSummary(
        count,
        round(average, 2),
        tuple((score, counts.get(score, 0)) for score in reversed(SCORES)),
        tuple(db.scalars(latest)),
    )


@dataclass(frozen=True, slots=True)
class RatedPlace:
    """A hut's or an item's ratings in short: ``low`` is how many scored LOW_SCORE or less."""

    id: str | int
    name: str
    count: int
    average: float
    low: int
    tag: str | None = None


def _figures(base: Any) -> tuple[Any, Any, Any]:
    """How many, their average and how many low, of the ratings in ``base``."""
    low = func.sum(case((base.c.score <= LOW_SCORE, 1), else_=0))
    return func.count(base.c.id), func.avg(base.c.score), low


def by_hut(db: Session, wanted: RatingFilter) -> list[RatedPlace]:
    """Every hut with a rating among ``wanted``, the most rated first."""
    base = ratings(wanted).subquery()
    count, average, low = _figures(base)
    query = (
        select(Hut.id, Hut.name, count, average, low)
        .join(base, base.c.hut_id == Hut.id)
        .group_by(Hut.id, Hut.name)
        .order_by(count.desc(), Hut.id)
    )
    return [
        RatedPlace(hut_id, name, int(n), round(float(avg), 2), int(lows or 0))
        for hut_id, name, n, avg, lows in db.execute(query)
    ]


def by_item(db: Session, wanted: RatingFilter, *, limit: int = 200) -> list[RatedPlace]:
    """Items with a rating among ``wanted``, the lowest average first (what to look at)."""
    base = ratings(wanted).subquery()
    count, average, low = _figures(base)
    query = (
        select(Item.id, Item.tag, Item.name_zh, count, average, low)
        .join(base, base.c.item_id == Item.id)
        .group_by(Item.id, Item.tag, Item.name_zh)
        .order_by(average.asc(), count.desc(), Item.id)
        .limit(limit)
    )
    return [
        RatedPlace(item_id, name, int(n), round(float(avg), 2), int(lows or 0), tag=tag)
        for item_id, tag, name, n, avg, lows in db.execute(query)
    ]


__all__ = [
    "MONTH_PATTERN",
    "RatedPlace",
    "RatingFilter",
    "RatingSummary",
    "by_hut",
    "by_item",
    "month_range",
    "ratings",
    "summary",
]
