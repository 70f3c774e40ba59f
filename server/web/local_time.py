"""Times as a person in the huts' district reads them: stored in UTC, shown in the huts'
time zone (Asia/Shanghai unless a hut says otherwise), to the minute."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DISTRICT_ZONE = ZoneInfo("Asia/Shanghai")


def shown(at: datetime | None, *, seconds: bool = False) -> str:
    """``at`` in the district's time ("" for none)."""
    if at is None:
        return ""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(DISTRICT_ZONE).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    )
