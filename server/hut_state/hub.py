"""The process's live changes (hut states, alarms) to whoever streams them to staff.

``publish`` is called from the tracker's thread and never waits: each subscriber has its
own bounded queue, and one that falls ``limit`` changes behind loses them all and is told
to resync (read a fresh snapshot) instead, so a slow browser can neither hold up the
tracker nor grow the server's memory. Subscribers wait in an asyncio event loop (the
HTTP server's); ``close`` ends every subscription, so open streams end at shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field

from server.storage.alarm_changes import AlarmView
from server.storage.hut_states import HutView

Change = HutView | AlarmView
DEFAULT_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Take:
    """What a subscriber found: the changes in order; ``resync``: it fell behind and lost
    changes (these follow the loss); ``closed``: the hub is closing, end the stream."""

    changes: list[Change] = field(default_factory=list)
    resync: bool = False
    closed: bool = False


class Subscription:
    def __init__(self, hub: LiveHub, limit: int) -> None:
        self._hub = hub
        self._limit = limit
        self._lock = threading.Lock()
        self._changes: deque[Change] = deque()
        self._resync = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None

    def offer(self, change: Change) -> None:
        """From any thread; never blocks."""
        with self._lock:
            if self._closed:
                return
            if len(self._changes) >= self._limit:
                self._changes.clear()
                self._resync = True
            self._changes.append(change)
        self._wake()

    def end(self) -> None:
        """The hub closes: the waiting subscriber returns with ``closed``."""
        with self._lock:
            self._closed = True
            self._changes.clear()
        self._wake()

    def close(self) -> None:
        """The subscriber leaves (its stream ended)."""
        with self._lock:
            self._closed = True
            self._changes.clear()
        self._hub.leave(self)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._changes)

    def take_now(self) -> Take:
        """Whatever is there, without waiting."""
        with self._lock:
            take = Take(list(self._changes), self._resync, self._closed)
            self._changes.clear()
            self._resync = False
            return take

    async def take(self, timeout: float) -> Take:
        """The changes that came, waiting up to ``timeout`` seconds for the first."""
        if self._ready is None:
            self._loop = asyncio.get_running_loop()
            self._ready = asyncio.Event()
        self._ready.clear()  # before looking: an offer from now on sets it again
        take = self.take_now()
        if take.changes or take.resync or take.closed:
            return take
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            pass
        return self.take_now()

    def _wake(self) -> None:
        loop, ready = self._loop, self._ready
        if loop is None or ready is None:
            return
        try:
            loop.call_soon_threadsafe(ready.set)
        except RuntimeError:  # its loop is closed: nobody is waiting any more
            pass


class LiveHub:
    """Thread-safe publish to every subscriber of this process."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._limit)
        with self._lock:
            if self._closed:
                subscription.end()
            else:
                self._subscribers.add(subscription)
        return subscription

    def leave(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def publish(self, change: Change) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.offer(change)

    def close(self) -> None:
        """End every subscription, now and to come (the server is stopping)."""
        with self._lock:
            self._closed = True
            subscribers = list(self._subscribers)
            self._subscribers.clear()
        for subscription in subscribers:
            subscription.end()
