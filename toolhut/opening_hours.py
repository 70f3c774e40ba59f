"""A hut's weekly opening hours, in its own time zone: the one model the server stores,
the allowlist carries to the gateway, and the gateway decides a tap with (offline too).

``{"tz": "Asia/Shanghai", "week": {"mon": [["08:00", "12:00"], ["14:00", "20:00"]], ...}}``:
a day left out is closed all day; a window's end is exclusive; "24:00" ends a day. Days
and windows are checked when the model is built: a bad value is a ValidationError that
names the day, never a hut that opens at the wrong time.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
MAX_WINDOWS = 4
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")

Window = Annotated[list[str], Field(min_length=2, max_length=2)]


def _minutes(clock: str) -> int:
    if not _CLOCK.match(clock):
        raise ValueError(f"{clock!r} is not a time of day HH:MM (00:00 to 24:00)")
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class OpeningHours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tz: Annotated[str, Field(max_length=64)] = "Asia/Shanghai"
    week: dict[str, Annotated[list[Window], Field(max_length=MAX_WINDOWS)]]

    @field_validator("tz")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r}") from exc
        return tz

    @field_validator("week")
    @classmethod
    def _days(cls, week: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        for day, windows in week.items():
            if day not in DAYS:
                raise ValueError(f"{day!r} is not a day ({', '.join(DAYS)})")
            previous_end = -1
            for start, end in sorted(windows, key=lambda w: _minutes(w[0])):
                if _minutes(start) >= _minutes(end):
                    raise ValueError(f"{day}: {start}-{end} ends before it starts")
                if _minutes(start) < previous_end:
                    raise ValueError(f"{day}: windows overlap at {start}")
                previous_end = _minutes(end)
        # Days in week order, windows in time order: equal hours compare (and digest) equal.
        return {day: sorted(week[day], key=lambda w: _minutes(w[0])) for day in DAYS if day in week}

    @model_validator(mode="after")
    def _not_always_closed(self) -> OpeningHours:
        if not any(self.week.values()):
            raise ValueError("the hut would never open: give at least one window")
        return self

    def is_open(self, at: datetime) -> bool:
        """True if the hut is open at ``at`` (an aware time, any zone)."""
        local = at.astimezone(ZoneInfo(self.tz))
        minute = local.hour * 60 + local.minute
        windows = self.week.get(DAYS[local.weekday()], ())
        return any(_minutes(start) <= minute < _minutes(end) for start, end in windows)

    def windows_on(self, at: datetime) -> list[str]:
        """The windows of ``at``'s local day as text for a display: ["08:00-20:00"]."""
        local = at.astimezone(ZoneInfo(self.tz))
        return [f"{start}-{end}" for start, end in self.week.get(DAYS[local.weekday()], ())]
