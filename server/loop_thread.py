"""A loop of a server process on a daemon thread of its own, started and stopped by the
runtime: what the alarms' loop and the monthly report's loop share. A subclass writes
``_run``, which returns once ``_stop`` is set."""

from __future__ import annotations

import threading


class LoopThread:
    thread_name = "toolhut-loop"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError
