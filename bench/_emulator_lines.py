"""Timing what the hut says back: an emulator output callback that wakes a waiter when a
line starting with the expected text appears (shared by the benchmarks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LineWaiter:
    def __init__(self) -> None:
        self._want = ""
        self._hit = threading.Event()

    def __call__(self, line: str) -> None:
        if self._want and line.startswith(self._want):
            self._hit.set()

    def timed(self, want: str, action: Callable[[], object], *, timeout: float = 5.0) -> float:
        """Run ``action`` and return the milliseconds until a line starting with ``want``."""
        self._want = want
        self._hit.clear()
        start = time.perf_counter()
        action()
        if not self._hit.wait(timeout):
            raise RuntimeError(f"no {want!r} from the hut within {timeout} s")
        return (time.perf_counter() - start) * 1000
