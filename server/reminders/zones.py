"""The huts' time zones by name, looked up once: quiet hours, due days and the dates in a
message are all decided in the hut's zone."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.storage.models import DEFAULT_TIMEZONE
from server.storage.reminder_queries import HutPlace

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


def zone_of(huts: Mapping[str, HutPlace], hut_id: str | None) -> tzinfo:
    """The zone of that hut; the default zone for a message of no hut or a hut now gone."""
    place = huts.get(hut_id or "")
    return hut_zone(place.timezone if place else DEFAULT_TIMEZONE)


def name_of(huts: Mapping[str, HutPlace], hut_id: str | None) -> str:
    """The name a message gives that hut (its id when the hut is gone)."""
    place = huts.get(hut_id or "")
    return place.name if place else (hut_id or "")
