"""Writes the hut's events to the outbox and publishes them, on a thread of its own.

The serial thread only hands an event over and goes back to the controller: a slow SD card
syncing the outbox must never delay the next unlock or make the controller retransmit.
Events keep the order in which they were recorded, and the time at which they happened.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, TypedDict

from hut_gateway.outbox import Outbox, Pending
from toolhut.contract import AnyEvent, new_id

log = logging.getLogger(__name__)


class Envelope(TypedDict):
    """The fields every event carries; ``seq`` is given when the outbox stores it."""

    id: str
    hut: str
    seq: int
    ts: datetime


Build = Callable[[Envelope], AnyEvent]


class _Entry(NamedTuple):
    event_id: str
    ts: datetime
    build: Build
    written: threading.Event | None
    door: str | None  # a door event's new state, kept with it (Outbox.append)


class Recorder:
    def __init__(
        self,
        outbox: Outbox,
        *,
        hut: str,
        publish: Callable[[Pending], None],
        clock: Callable[[], datetime],
    ) -> None:
        self._outbox = outbox
        self._hut = hut
        self._publish = publish
        self._clock = clock
        # None asks the thread to stop once it has written everything before it.
        self._queue: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gateway-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what was handed over before stopping: a clean stop loses nothing."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def record(
        self, build: Build, *, written: threading.Event | None = None, door: str | None = None
    ) -> str:
        """Queue an event; returns its id at once. ``written`` is set once the event is in
        the outbox (or could not be written); ``door``: see ``Outbox.append``."""
        event_id = new_id()
        self._queue.put(_Entry(event_id, self._clock(), build, written, door))
        return event_id

    def _run(self) -> None:
        while (entry := self._queue.get()) is not None:
            try:
                self._write(entry)
            except Exception:  # a bad event must not stop the recording of the next ones
                log.exception("could not record event %s", entry.event_id)
            finally:
                if entry.written is not None:
                    entry.written.set()

    def _write(self, entry: _Entry) -> None:
        _, stored = self._outbox.append(
            lambda seq: entry.build(
                Envelope(id=entry.event_id, hut=self._hut, seq=seq, ts=entry.ts)
            ),
            door=entry.door,
        )
        if entry.written is not None:
            entry.written.set()  # durable: whoever waits may go on before the publish
        self._publish(stored)
