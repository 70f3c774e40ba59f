"""Run ``toolhut`` subcommands as real processes and read what they print."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any


class ToolhutProcess:
    """``python -m toolhut_cli.cli ARGS`` with stdin piped and stdout+stderr collected by line."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, sigint_ignored: bool = False
    ) -> None:
        """``sigint_ignored``: start it as a non-interactive shell starts a background job
        (a CI runner may), with SIGINT ignored, which the child inherits."""
        self.args = args
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "toolhut_cli.cli", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern: str, *, timeout: float = 10.0) -> re.Match[str]:
        """Wait for the next output line matching ``pattern`` (lines before it are consumed)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout}s from {self.args[0]}; "
                    f"output so far:\n" + "\n".join(self.lines[-40:])
                )
            try:
                line = self._queue.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self._queue.empty():
                    raise AssertionError(
                        f"{self.args[0]} exited with {self.proc.returncode} before printing "
                        f"{pattern!r}; output:\n" + "\n".join(self.lines[-40:])
                    ) from None
                continue
            match = regex.search(line)
            if match:
                return match

    def drain(self) -> list[str]:
        """The lines not yet consumed by ``expect``."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(timeout)
        return self.proc.returncode


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_toolhut(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolhut_cli.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def http_json(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    method: str = "GET",
    body: Any = None,
) -> Any:
    """The JSON answer of a request (None for an empty one, e.g. 204)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**(headers or {}), **({} if data is None else {"Content-Type": "application/json"})}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_http(url: str, *, timeout: float = 30.0, procs: Sequence[ToolhutProcess] = ()) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_json(url)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            for proc in procs:
                if proc.proc.poll() is not None:
                    raise AssertionError(
                        f"{proc.args[0]} exited: \n" + "\n".join(proc.lines[-40:])
                    ) from exc
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def poll_until(predicate: Any, *, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll a real process's observable state until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
