"""Run one function in a forked process and get its return value back.

The load of a bench (the gateways' side, the plain publisher) runs in a process of its
own so it does not share the measured side's GIL, as on the wire. Forked, not spawned: the
child inherits what it is handed (a pool of prebuilt payloads, a function) without
pickling it, and starts in milliseconds.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _main(queue: Any, fn: Callable[[], Any]) -> None:
    try:
        queue.put(("ok", fn()))
    except BaseException:  # told to the parent, which raises it there
        queue.put(("error", traceback.format_exc()))


class Child(Generic[T]):
    """``fn`` running in a forked process; ``result()`` waits for what it returned."""

    def __init__(self, fn: Callable[[], T], *, name: str = "bench-child") -> None:
        context = mp.get_context("fork")
        self._queue: Any = context.Queue()
        self._process = context.Process(target=_main, args=(self._queue, fn), name=name)
        self._process.start()

    def result(self, timeout: float) -> T:
        import queue

        try:
            status, value = self._queue.get(timeout=timeout)
        except queue.Empty:
            self._process.kill()
            raise RuntimeError(f"{self._process.name} gave no result within {timeout} s") from None
        finally:
            self._process.join(10)
        if status != "ok":
            raise RuntimeError(f"{self._process.name} failed:\n{value}")
        result: T = value
        return result
