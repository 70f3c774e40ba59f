"""A log line that a flood cannot multiply: at most ``limit`` lines per window, and one
"suppressed" line for what was held back. Used where strangers decide how often we log
(bad MQTT messages, wrong tokens)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    """Logs one kind of line at most ``limit`` times per ``window_s`` seconds of ``clock``.

    The lines held back in a window are counted; the next line logged after the window (or
    ``flush()``) first says how many."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        limit: int = 10,
        window_s: float = 60.0,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self._logger = logger
        self._limit = limit
        self._window_s = window_s
        self._level = level
        self._clock = clock
        self._lock = threading.Lock()
        self._window_end = float("-inf")
        self._logged = 0
        self._suppressed = 0

    def log(self, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log ``msg % args`` unless this window's lines are used up; True if logged."""
        with self._lock:
            now = self._clock()
            if now >= self._window_end:
                self._flush_locked()
                self._window_end = now + self._window_s
                self._logged = 0
            if self._logged >= self._limit:
                self._suppressed += 1
                return False
            self._logged += 1
        self._logger.log(self._level, msg, *args, exc_info=exc_info)
        return True

    def flush(self) -> None:
        """Say now how many lines were held back (at the end of a run)."""
        with self._lock:
            self._flush_locked()

    @property
    def suppressed(self) -> int:
        """Lines held back and not yet reported."""
        return self._suppressed

    def _flush_locked(self) -> None:
        if self._suppressed:
            self._logger.log(
                self._level,
                "suppressed %d similar lines in the last %.0f s",
                self._suppressed,
                self._window_s,
            )
            self._suppressed = 0


def shown_topic(topic: str) -> str:
    """A stranger's topic for a log line: short, and any control character escaped."""
    return topic[:256].encode("unicode_escape").decode("ascii")
