"""The month's figures against a ledger built from a known stream (month_ledger.py), and
the pure arithmetic under them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.reports.build import UnknownHutError, monthly_figures
from server.reports.figures import Month, MonthError, availability, lateness
from server.storage.report_queries import LOAN_RATINGS

from . import month_ledger as ledger
from .month_ledger import AFTER, EXPECTED_HUT, NOVEMBER, utc

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _pairs(counts: object) -> list[tuple[str, int]]:
    return [(c.key, c.count) for c in counts]  # type: ignore[attr-defined]


def test_hut_figures_match_the_stream(sessions: sessionmaker[Session]) -> None:
    ledger.build(sessions)
    with sessions() as db:
        got = monthly_figures(db, month=Month.parse(NOVEMBER), hut_id="demo-hut", now=AFTER)
    want = EXPECTED_HUT
    assert got.complete and got.hut_name and got.timezone == "Asia/Shanghai"
    assert got.start == datetime(2026, 10, 31, 16, tzinfo=UTC) and got.end == ledger.END
    assert got.loans == want["loans"]
    assert _pairs(got.loans_by_week) == want["weeks"]
    assert _pairs(got.loans_by_category) == want["categories"]
    assert _pairs(got.top_items) == want["top"]
    assert [c.key for c in got.never_borrowed] == want["never"]
    assert (got.lateness.due, got.lateness.late) == (want["due"], want["late"])
    assert got.lateness.average_days_late == want["average_days_late"]
    assert got.lateness.rate == pytest.approx(0.6)
    assert _pairs(got.reminders_by_channel) == want["reminders"]
    w = got.wishes
    assert (w.proposed, w.deliberated, w.handled, w.evaluated, w.declined) == want["wishes"]
    assert [(p.name, p.items, p.wishes) for p in got.partners] == want["partners"]
    assert got.seniors_served == want["seniors"]
    assert _pairs(got.alarms_by_kind) == want["alarms"]
    assert _pairs(got.anomalies_by_kind) == want["anomalies"]
    [hut] = got.availability
    assert hut.offline_hours == want["offline_hours"]
    assert hut.share_online == want["share_online"]
    assert got.ratings.count == 0  # nobody rated a loan in this stream


def test_the_district_counts_every_hut(sessions: sessionmaker[Session]) -> None:
    ledger.build(sessions)
    with sessions() as db:
        got = monthly_figures(db, month=Month.parse(NOVEMBER), hut_id=None, now=AFTER)
    assert got.hut_id is None and got.hut_name == ""
    assert got.loans == 6
    assert ("household", 1) in _pairs(got.loans_by_category)
    assert _pairs(got.reminders_by_channel) == [("wecom", 2), ("email", 1), ("sms", 1)]
    assert got.wishes.proposed == 3
    assert [a.hut_id for a in got.availability] == ["demo-hut", ledger.OTHER_HUT]
    assert got.share_online == pytest.approx((0.9722 + 1.0) / 2, abs=1e-4)


def test_a_month_not_over_counts_to_now(sessions: sessionmaker[Session]) -> None:
    ledger.build(sessions)
    now = utc(11, 10, 16)  # Nov 11 00:00 in Shanghai
    with sessions() as db:
        got = monthly_figures(db, month=Month.parse(NOVEMBER), hut_id="demo-hut", now=now)
    assert not got.complete and got.until == now
    # T0004 (due Nov 8, out) is 2 days 14 h late by now; T0003 and T0001 not yet due.
    assert (got.lateness.due, got.lateness.late) == (5, 1)
    assert got.lateness.average_days_late == pytest.approx(2.58, abs=0.01)
    # Offline 2 h (from October) and 12 h, of 10 days so far.
    assert got.availability[0].offline_hours == 14.0


def test_ratings_are_read_when_the_table_is_there(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    ledger.build(sessions)
    rows = [
        (5, "很好用，谢谢！", utc(11, 4, 3)),
        (4, "  ", utc(11, 13, 16)),
        (2, "电池不太够", utc(11, 14)),
        (5, "", utc(12, 2)),  # December's
    ]
    with engine.begin() as conn:
        conn.execute(
            LOAN_RATINGS.insert(),
            [
                {
                    "loan_id": n + 1,
                    "item_id": 1,
                    "hut_id": "demo-hut",
                    "member_id": 1,
                    "score": score,
                    "comment": text,
                    "source": "hut",
                    "rated_at": at,
                }
                for n, (score, text, at) in enumerate(rows)
            ],
        )
    with sessions() as db:
        got = monthly_figures(db, month=Month.parse(NOVEMBER), hut_id="demo-hut", now=AFTER)
    r = got.ratings
    assert r.available and r.count == 3 and r.average == pytest.approx(3.67)
    assert r.by_score == (0, 1, 0, 1, 1)
    assert [(c.item_zh, c.score, c.comment) for c in r.comments] == [
        ("电钻", 5, "很好用，谢谢！"),
        ("电钻", 2, "电池不太够"),
    ]


def test_an_unknown_hut_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as db, pytest.raises(UnknownHutError):
        monthly_figures(db, month=Month(2026, 11), hut_id="nowhere", now=AFTER)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "November", "", "2026-00"])
def test_a_bad_month_is_refused(text: str) -> None:
    with pytest.raises(MonthError):
        Month.parse(text)


def test_month_bounds_and_weeks_in_the_zone() -> None:
    december = Month.parse("2026-12")
    assert december.previous() == Month(2026, 11) and december.next() == Month(2027, 1)
    assert Month(2027, 1).previous() == december
    start, end = december.bounds(SHANGHAI)
    assert start == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert [d.day for d in december.week_starts()] == [1, 7, 14, 21, 28]


def test_lateness_and_availability_arithmetic() -> None:
    t = datetime(2026, 11, 1, tzinfo=UTC)
    day = timedelta(days=1)
    got = lateness([(t, t - day), (t, t + day), (t, None)], until=t + 3 * day)
    assert (got.due, got.late, got.average_days_late) == (3, 2, 2.0)
    assert lateness([], until=t).rate == 0.0
    # Overlapping and out-of-month spans merge and clip.
    spans = [(t - day, t + day), (t + 12 * timedelta(hours=1), t + 2 * day), (t + 9 * day, None)]
    got_a = availability("h", spans, start=t, until=t + 10 * day)
    assert got_a.offline_hours == 72.0 and got_a.share_online == 0.7
