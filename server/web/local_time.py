"""Times as a page shows them: stored in UTC, shown in the hut's own time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from server.storage.models import DEFAULT_TIMEZONE

Formatter = Callable[..., str]


def local_time(zone: str | None) -> Formatter:
    """A formatter of moments in ``zone`` (None: the default zone): ``when(moment)`` gives
    date and time, ``when(moment, time=False)`` the date; None gives ""."""
    tz = ZoneInfo(zone or DEFAULT_TIMEZONE)

    def when(moment: datetime | None, *, time: bool = True) -> str:
        if moment is None:
            return ""
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M" if time else "%Y-%m-%d")

    return when
