"""Huts online and alarms open, read from the database when Prometheus scrapes.

These are states, not events, and another server process may have changed them: so they
are read, not counted, with one aggregate query each (server.storage.operations_counts).
The reading is kept for ``CACHE_S`` and taken by one scrape at a time, so a scrape storm
(many Prometheus servers, a dashboard refreshing every second) costs the database two
queries per ``CACHE_S``. Every server process reports the same figures: aggregate them
across instances with max(), not sum().
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from server.storage.operations_counts import HutCounts, hut_counts, open_alarms_by_kind

log = logging.getLogger(__name__)

CACHE_S = 5.0


@dataclass(frozen=True, slots=True)
class _Reading:
    huts: HutCounts
    alarms: dict[str, int]


class OperationsGauges(Collector):
    """A custom collector: its families are built from one cached reading per scrape."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        cache_s: float = CACHE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._cache_s = cache_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._reading: _Reading | None = None
        self._read_at = float("-inf")
        self._ok = True
        self._kinds: set[str] = set()  # alarm kinds seen: 0 once none is open, not absent
        self.reads = 0  # database readings taken (the tests count them)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe(), registering would call collect(): a query at start-up.
        return iter(self._families(None))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families(self._current()))

    def _current(self) -> _Reading | None:
        with self._lock:  # one scrape reads; the others wait and take its reading
            now = self._monotonic()
            if now - self._read_at < self._cache_s:
                return self._reading
            self._read_at = now
            try:
                with self._sessions() as db:
                    reading = _Reading(hut_counts(db), open_alarms_by_kind(db))
            except SQLAlchemyError as exc:
                if self._ok:  # once per outage, not once per scrape
                    log.warning("metrics: cannot read huts and alarms: %s", type(exc).__name__)
                self._ok = False
                self._reading = None
                return None
            self.reads += 1
            self._ok = True
            self._kinds.update(reading.alarms)
            self._reading = reading
            return reading

    def _families(self, reading: _Reading | None) -> list[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "toolhut_scrape_database_up",
            "1 if the database answered the scrape-time read of huts and alarms",
        )
        known = GaugeMetricFamily("toolhut_huts", "Huts in the database")
        reporting = GaugeMetricFamily(
            "toolhut_huts_reporting", "Huts whose gateway ever reported its status"
        )
        online = GaugeMetricFamily("toolhut_huts_online", "Huts online, as the server sees them")
        alarms = GaugeMetricFamily(
            "toolhut_alarms_open", "Alarms not yet resolved by staff, by kind", labels=["kind"]
        )
        families = [up, known, reporting, online, alarms]
        if reading is None:
            up.add_metric([], 0.0 if not self._ok else 1.0)
            return families
        up.add_metric([], 1.0)
        known.add_metric([], reading.huts.known)
        reporting.add_metric([], reading.huts.reporting)
        online.add_metric([], reading.huts.online)
        for kind in sorted(self._kinds):
            alarms.add_metric([kind], reading.alarms.get(kind, 0))
        return families


__all__ = ["CACHE_S", "OperationsGauges"]
