"""The huts' time zones by name, looked up once: quiet hours, due days and the dates in a
message are all decided in the hut's zone."""

from __future__ import annotations

import functools
import logging
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.storage.models import DEFAULT_TIMEZONE

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def hut_zone(name: str) -> tzinfo:
    """The zone of that name; an unknown name (a typo in a hut's row) is the default zone,
    so one bad hut does not stop every reminder."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using %s", name, DEFAULT_TIMEZONE)
        return ZoneInfo(DEFAULT_TIMEZONE)
