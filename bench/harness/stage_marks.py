"""``toolhut`` with a clock on the scan's path: run as a script in place of the ``toolhut``
command (bench/scan_stages.py starts the stack's gateway and server so), it wraps the
functions a scan and its answer pass through, notes the time each is entered or left, and
writes the marks to a file when the process ends (MARKS.gateway or MARKS.server):

    python bench/harness/stage_marks.py MARKS [toolhut arguments ...]

Times are ``time.perf_counter()``: CLOCK_MONOTONIC on Linux, one clock for every process of
the machine, so the gateway's, the server's and the bench's marks line up. Each wrapper
adds a call and an append to the function it wraps. A function named here that no longer
exists stops the process at start: the stages follow the code, or the bench says it does
not.

Imports only the product's modules (this file runs outside the harness package).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

# (module, class, function, when): "in" marks the call, "out" its return. In path order.
WRAPPED = (
    ("hut_gateway.gateway", "Gateway", "_on_scan", "in"),
    ("hut_gateway.recorder", "Recorder", "_write", "in"),
    ("hut_gateway.outbox", "Outbox", "append", "out"),
    ("hut_gateway.uplink", "Uplink", "publish", "out"),
    ("server.ingest", "IngestWorker", "_on_message", "in"),
    ("server.ingest", "IngestWorker", "_apply", "in"),
    ("server.ingest", "IngestWorker", "_apply", "out"),
    ("server.ingest", "IngestWorker", "_finish", "out"),
    ("hut_gateway.uplink", "Uplink", "_handle_message", "in"),
    ("hut_gateway.gateway", "Gateway", "_send_feedback", "in"),
)
# The serial port's: the first read that brings bytes, the write of a frame.
SERIAL = ("firmware_bridge.link", "SerialTransport")

_marks: list[tuple[float, str]] = []


def mark(label: str) -> None:
    _marks.append((time.perf_counter(), label))


def _wrap(module: str, cls: str, name: str, whens: set[str]) -> None:
    owner = getattr(importlib.import_module(module), cls)
    original: Callable[..., Any] = getattr(owner, name)  # AttributeError: the code moved
    label = f"{cls}.{name}"

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "in" in whens:
            mark(f"{label} in")
        result = original(*args, **kwargs)
        if "out" in whens:
            mark(f"{label} out")
        return result

    setattr(owner, name, wrapper)


def _wrap_serial() -> None:
    owner = getattr(importlib.import_module(SERIAL[0]), SERIAL[1])
    read, write = owner.read, owner.write

    def timed_read(self: Any, n: int) -> bytes:
        data: bytes = read(self, n)
        if data:
            mark("serial read")
        return data

    def timed_write(self: Any, data: bytes) -> None:
        write(self, data)
        mark("serial written")

    owner.read, owner.write = timed_read, timed_write


def install(command: str) -> None:
    """Wrap the functions of ``command``'s process ("gateway" or "server")."""
    package = {"gateway": "hut_gateway.", "server": "server."}[command]
    whens: dict[tuple[str, str, str], set[str]] = {}
    for module, cls, name, when in WRAPPED:
        if module.startswith(package):
            whens.setdefault((module, cls, name), set()).add(when)
    for (module, cls, name), kinds in whens.items():
        _wrap(module, cls, name, kinds)
    if command == "gateway":
        _wrap_serial()


def _write(path: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(f"{t:.7f} {label}\n" for t, label in _marks)


def main() -> int:
    path, args = sys.argv[1], sys.argv[2:]
    command = next(a for a in args if a in ("gateway", "server"))
    install(command)
    atexit.register(_write, f"{path}.{command}")
    from toolhut_cli.cli import main as toolhut

    return toolhut(args)


if __name__ == "__main__":
    sys.exit(main())
