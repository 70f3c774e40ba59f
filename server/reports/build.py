"""The month's figures of one hut or the district, read from the database
(server/storage/report_queries.py) and put together by server/reports/figures.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.reminders.zones import hut_zone
from server.reports import figures as f
from server.reports.figures import Count, Month, MonthlyFigures
from server.storage import report_queries as q
from server.storage.models import DEFAULT_TIMEZONE


class UnknownHutError(LookupError):
    """A report asked for a hut that does not exist."""


def _counts(rows: list[q.Row]) -> tuple[Count, ...]:
    return tuple(Count(key, n, zh, en) for key, n, zh, en in rows)


def monthly_figures(
    db: Session,
    *,
    month: Month,
    hut_id: str | None,
    now: datetime,
    district_zone: str = DEFAULT_TIMEZONE,
) -> MonthlyFigures:
    """The figures of ``month`` at ``hut_id`` (None: every hut), the month's bounds in
    the hut's zone (the district's: ``district_zone``). A month not over yet is counted
    up to ``now``."""
    huts = q.huts(db, hut_id)
    if hut_id is not None and not huts:
        raise UnknownHutError(hut_id)
    zone_name = huts[0][2] if hut_id is not None else district_zone
    zone = hut_zone(zone_name)
    start, end = month.bounds(zone)
    until = min(max(now, start), end)
    weeks = f.week_bounds(month, zone)
    by_week = q.loans_by_period(db, weeks, end, hut_id)
    offline = q.offline_incidents(db, start, end, hut_id)
    ratings = f.ratings(
        [
            (score, text, zh, en, at.astimezone(zone).date())
            for score, text, zh, en, at in q.loan_ratings(db, start, end, hut_id)
        ]
    )
    return MonthlyFigures(
        month=month,
        hut_id=hut_id,
        hut_name=huts[0][1] if hut_id is not None else "",
        timezone=zone_name,
        start=start,
        end=end,
        until=until,
        loans=sum(by_week),
        loans_by_week=tuple(
            Count(day.isoformat(), n) for day, n in zip(month.week_starts(), by_week, strict=True)
        ),
        loans_by_category=_counts(q.loans_by_category(db, start, end, hut_id)),
        top_items=_counts(q.top_items(db, start, end, hut_id)),
        never_borrowed=_counts(q.never_borrowed(db, end, hut_id)),
        lateness=f.lateness(q.loans_due(db, start, end, hut_id), until=until),
        reminders_by_channel=_counts(q.reminders_by_channel(db, start, end, hut_id)),
        ratings=ratings,
        wishes=f.WishSteps(*q.wish_steps(db, start, end, hut_id)),
        partners=tuple(
            f.PartnerDonation(*row) for row in q.partner_donations(db, start, end, hut_id)
        ),
        seniors_served=q.seniors_served(db, start, end, hut_id),
        alarms_by_kind=_counts(q.alarms_by_kind(db, start, end, hut_id)),
        anomalies_by_kind=_counts(q.anomalies_by_kind(db, start, end, hut_id)),
        availability=tuple(
            f.availability(
                hid,
                [(a, b) for h, a, b in offline if h == hid],
                start=start,
                until=until,
            )
            for hid, _name, _zone in huts
        ),
    )
