"""What a monthly report says, as one frozen value: every renderer (the CSV, the Chinese
and the English PDF, the staff message's headline) draws from the same ``MonthlyFigures``.

Pure arithmetic on what the queries return (no database here): the month's bounds in a
time zone, its weeks, how late the loans due in the month came back, and how much of the
month each hut was online.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
DAY = timedelta(days=1)


class MonthError(ValueError):
    """A month that is not written YYYY-MM or does not exist."""


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = _MONTH.match(text.strip())
        if found is None:
            raise MonthError(f"month {text!r}: expected YYYY-MM, e.g. 2026-11")
        year, month = int(found[1]), int(found[2])
        if not (1 <= month <= 12 and 2000 <= year <= 2999):
            raise MonthError(f"month {text!r}: no such month")
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def bounds(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """The month's first instant and the next month's, in UTC, midnight in ``zone``."""
        return _midnight(self.first_day, zone), _midnight(self.next().first_day, zone)

    def week_starts(self) -> list[date]:
        """The first day in the month of each week (Monday to Sunday) it touches: the 1st,
        then every Monday after it."""
        days = (self.next().first_day - self.first_day).days
        return [
            self.first_day + timedelta(days=n)
            for n in range(days)
            if n == 0 or (self.first_day + timedelta(days=n)).weekday() == 0
        ]


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def week_bounds(month: Month, zone: tzinfo) -> list[datetime]:
    """The UTC first instant of each of the month's weeks (Month.week_starts)."""
    return [_midnight(day, zone) for day in month.week_starts()]


@dataclass(frozen=True, slots=True)
class Count:
    """One row of a breakdown: its key (a tag, a category, a channel, a date) and names."""

    key: str
    count: int
    name_zh: str = ""
    name_en: str = ""

    def name(self, lang: str) -> str:
        return (self.name_en if lang == "en" else self.name_zh) or self.name_zh or self.key


@dataclass(frozen=True, slots=True)
class Lateness:
    due: int  # loans due within the month
    late: int  # of those, back after their due time, or not back by the month's end
    average_days_late: float  # over the late ones, to their return or the month's end

    @property
    def rate(self) -> float:
        return self.late / self.due if self.due else 0.0


def lateness(loans: Iterable[tuple[datetime, datetime | None]], *, until: datetime) -> Lateness:
    """``loans``: (due_at, closed_at or None) of the loans due in the month; ``until``: the
    month's end (or now, for a month not over). A loan still out at ``until`` and past due
    counts late by the time to ``until``."""
    due = 0
    late_days: list[float] = []
    for due_at, closed_at in loans:
        due += 1
        end = until if closed_at is None or closed_at > until else closed_at
        if end > due_at:
            late_days.append((end - due_at) / DAY)
    average = sum(late_days) / len(late_days) if late_days else 0.0
    return Lateness(due=due, late=len(late_days), average_days_late=round(average, 2))


@dataclass(frozen=True, slots=True)
class Availability:
    hut_id: str
    offline_hours: float
    share_online: float  # 0..1 of the month (to ``until`` for a month not over)


def availability(
    hut_id: str,
    offline: Iterable[tuple[datetime, datetime | None]],
    *,
    start: datetime,
    until: datetime,
) -> Availability:
    """``offline``: the hut-offline incidents (raised_at, ended_at or None while still
    open), clipped to [start, until) and merged where they overlap."""
    spans = sorted(
        (max(begin, start), min(end or until, until))
        for begin, end in offline
        if begin < until and (end is None or end > start)
    )
    total = timedelta()
    current: tuple[datetime, datetime] | None = None
    for begin, end in spans:
        if current is not None and begin <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            total += current[1] - current[0]
        current = (begin, end)
    if current is not None:
        total += current[1] - current[0]
    length = until - start
    share = 1.0 - total / length if length > timedelta() else 1.0
    return Availability(hut_id, round(total / timedelta(hours=1), 2), round(share, 4))


@dataclass(frozen=True, slots=True)
class RatingComment:
    """A resident's words on a loan: the item and the score, never who wrote them."""

    item_zh: str
    item_en: str
    score: int
    comment: str
    day: date


@dataclass(frozen=True, slots=True)
class Ratings:
    count: int
    average: float
    by_score: tuple[int, int, int, int, int]  # how many gave 1, 2, 3, 4, 5
    comments: tuple[RatingComment, ...]
    available: bool = True  # False: this database has no loan ratings yet


NO_RATINGS = Ratings(0, 0.0, (0, 0, 0, 0, 0), (), available=False)


def ratings(rows: Sequence[tuple[int, str, str, str, date]]) -> Ratings:
    """``rows``: (score, comment, item name zh, item name en, day), oldest first."""
    by_score = [0] * 5
    for score, *_ in rows:
        by_score[min(max(score, 1), 5) - 1] += 1
    average = round(sum(r[0] for r in rows) / len(rows), 2) if rows else 0.0
    comments = tuple(
        RatingComment(zh, en, score, text.strip(), day)
        for score, text, zh, en, day in rows
        if text.strip()
    )
    return Ratings(len(rows), average, tuple(by_score), comments)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class WishSteps:
    """Wishes that took each step of 提议办评 in the month (a wish may take several)."""

    proposed: int
    deliberated: int
    handled: int
    evaluated: int
    declined: int  # of the handled, declined with a reason


@dataclass(frozen=True, slots=True)
class PartnerDonation:
    name: str  # an organisation's name (not personal data)
    items: int  # items in the inventory it donated
    wishes: int  # wishes it fulfilled in the month


@dataclass(frozen=True, slots=True)
class MonthlyFigures:
    month: Month
    hut_id: str | None  # None: the whole district
    hut_name: str  # the hut's name, "" for the district
    timezone: str
    start: datetime  # UTC, the month's first instant in the zone
    end: datetime  # UTC, the next month's first instant
    until: datetime  # the end, or the time of building for a month not over
    loans: int
    loans_by_week: tuple[Count, ...]  # key: the week's first day in the month, ISO
    loans_by_category: tuple[Count, ...]
    top_items: tuple[Count, ...]  # key: the tag
    never_borrowed: tuple[Count, ...]  # key: the tag; count 0
    lateness: Lateness
    reminders_by_channel: tuple[Count, ...]
    ratings: Ratings
    wishes: WishSteps
    partners: tuple[PartnerDonation, ...]
    seniors_served: int
    alarms_by_kind: tuple[Count, ...]
    anomalies_by_kind: tuple[Count, ...]
    availability: tuple[Availability, ...]

    @property
    def complete(self) -> bool:
        return self.until >= self.end

    @property
    def share_online(self) -> float:
        """The huts' mean share of the month online (1.0 with no hut)."""
        if not self.availability:
            return 1.0
        return round(sum(a.share_online for a in self.availability) / len(self.availability), 4)

    @property
    def alarms(self) -> int:
        return sum(c.count for c in self.alarms_by_kind)

    @property
    def anomalies(self) -> int:
        return sum(c.count for c in self.anomalies_by_kind)
