"""Times as a page shows them: stored in UTC, shown in a hut's own time zone (the default
zone, Asia/Shanghai, where a page speaks of no one hut), to the minute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from server.storage.models import DEFAULT_TIMEZONE

Formatter = Callable[..., str]


def local_time(zone: str | None) -> Formatter:
    """A formatter of moments in ``zone`` (None: the default zone): ``when(moment)`` gives
    date and time, ``when(moment, time=False)`` the date; None gives ""."""
    tz = ZoneInfo(zone or DEFAULT_TIMEZONE)

    def when(moment: datetime | None, *, time: bool = True, seconds: bool = False) -> str:
        if moment is None:
            return ""
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M" if time else "%Y-%m-%d"
        return aware.astimezone(tz).strftime(pattern)

    return when


shown = local_time(None)
"""A moment in the default zone: ``shown(at)``, ``shown(at, seconds=True)``."""
