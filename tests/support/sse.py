"""A client of a real server's event stream (text/event-stream over HTTP, httpx streaming)
on a thread of its own, so a test waits for an event with a deadline and knows when it
arrived, and sees the stream end."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    event: str | None
    data: Any  # the JSON of the data lines
    id: str | None
    arrived: float  # time.monotonic()


class SseReader:
    def __init__(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        self.status: int | None = None
        self.comments = 0
        self.ended = threading.Event()
        self._events: queue.Queue[SseEvent] = queue.Queue()
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._thread = threading.Thread(
            target=self._read, args=(url, headers or {}), name="sse-reader", daemon=True
        )
        self._thread.start()
        if not self._opened.wait(20):
            raise AssertionError(f"no answer from {url} within 20 s")

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                self._opened.set()
                fields: dict[str, list[str]] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.comments += 1
                    elif line == "":
                        if fields:
                            self._events.put(_event(fields))
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields.setdefault(name, []).append(value.removeprefix(" "))
        except (httpx.HTTPError, OSError, RuntimeError):
            pass  # closed by close(), or the server went away: ended either way
        finally:
            self._opened.set()
            self.ended.set()

    def next(self, *, timeout: float = 10.0) -> SseEvent:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty as exc:
            raise AssertionError(f"no event within {timeout} s") from exc

    def wait_for(self, match: Callable[[SseEvent], bool], *, timeout: float) -> SseEvent:
        """The first event from now on that ``match``es (those before it are consumed)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                break
            if match(event):
                return event
        raise AssertionError(f"no matching event within {timeout} s")

    def close(self) -> None:
        self._client.close()
        self._thread.join(10)


def _event(fields: dict[str, list[str]]) -> SseEvent:
    data = "\n".join(fields.get("data", [])) or None
    return SseEvent(
        event=fields.get("event", [None])[-1],
        data=None if data is None else json.loads(data),
        id=fields.get("id", [None])[-1],
        arrived=time.monotonic(),
    )
