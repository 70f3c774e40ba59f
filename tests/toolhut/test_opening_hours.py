"""A hut's opening hours: what a bad value gets, and when the door is open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from toolhut.opening_hours import OpeningHours

# Sunday 29 November 2026; Shanghai is UTC+8 all year.
SUNDAY_0959 = datetime(2026, 11, 29, 1, 59, tzinfo=UTC)
SUNDAY_1000 = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
SUNDAY_1200 = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
SUNDAY_2359 = datetime(2026, 11, 29, 15, 59, tzinfo=UTC)


def test_open_inside_a_window_closed_outside_and_at_its_end() -> None:
    hours = OpeningHours(week={"sun": [["14:00", "20:00"], ["10:00", "12:00"]]})
    assert not hours.is_open(SUNDAY_0959)
    assert hours.is_open(SUNDAY_1000)
    assert not hours.is_open(SUNDAY_1200)  # the end is exclusive
    assert hours.windows_on(SUNDAY_1000) == ["10:00-12:00", "14:00-20:00"]


def test_a_day_left_out_is_closed_and_24_00_ends_a_day() -> None:
    hours = OpeningHours(week={"sat": [["00:00", "24:00"]]})
    assert not hours.is_open(SUNDAY_1000)
    assert hours.is_open(datetime(2026, 11, 28, 15, 59, tzinfo=UTC))  # Sat 23:59 local
    assert hours.windows_on(SUNDAY_2359) == []


def test_the_hut_zone_decides_the_day() -> None:
    # 23:59 UTC on Saturday is already Sunday 07:59 in Shanghai, Saturday 15:59 in LA.
    at = datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    assert OpeningHours(tz="Asia/Shanghai", week={"sun": [["07:00", "08:00"]]}).is_open(at)
    assert OpeningHours(tz="America/Los_Angeles", week={"sat": [["15:00", "16:00"]]}).is_open(at)


def test_equal_hours_compare_equal_whatever_the_order_given() -> None:
    a = OpeningHours(
        week={"tue": [["14:00", "15:00"], ["08:00", "09:00"]], "mon": [["09:00", "10:00"]]}
    )
    b = OpeningHours(
        week={"mon": [["09:00", "10:00"]], "tue": [["08:00", "09:00"], ["14:00", "15:00"]]}
    )
    assert list(a.week) == ["mon", "tue"]
    assert a == b and a.model_dump_json() == b.model_dump_json()


@pytest.mark.parametrize(
    ("week", "tz", "says"),
    [
        ({"mon": [["09:00", "08:00"]]}, "Asia/Shanghai", "ends before it starts"),
        ({"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}, "Asia/Shanghai", "overlap"),
        ({"monday": [["08:00", "12:00"]]}, "Asia/Shanghai", "is not a day"),
        ({"mon": [["8:00", "12:00"]]}, "Asia/Shanghai", "not a time of day"),
        ({"mon": [["08:00", "24:01"]]}, "Asia/Shanghai", "not a time of day"),
        ({"mon": [["08:00"]]}, "Asia/Shanghai", "at least 2"),
        ({"mon": []}, "Asia/Shanghai", "never open"),
        ({"mon": [["08:00", "09:00"]]}, "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_hours_are_refused_with_the_reason(week: dict, tz: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        OpeningHours(tz=tz, week=week)
