"""What a paho network thread hands a worker thread: the ingest worker's and the hut-state
tracker's inbox. Paho's thread must never wait on the database, so it only appends; the
worker takes what came in bulk and does the work on its own thread."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    """Items handed over by other threads, taken in bulk by one worker thread. A deque,
    whose append and popleft are atomic, and an event that wakes the worker: a queue.Queue
    cost a lock and a notify per message on each side."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._ready = threading.Event()

    def put(self, item: T) -> None:
        self._items.append(item)
        if not self._ready.is_set():  # set again by whoever puts after the take cleared it
            self._ready.set()

    def take(self, limit: int, *, timeout: float) -> list[T]:
        """Up to ``limit`` items, oldest first, waiting up to ``timeout`` for the first
        (an empty list if none came). Only the worker thread takes."""
        if not self._items and not self._ready.wait(timeout):
            return []
        self._ready.clear()  # before taking: what is put from now on sets it again
        items = self._items
        return [items.popleft() for _ in range(min(limit, len(items)))]

    def __len__(self) -> int:
        return len(self._items)
