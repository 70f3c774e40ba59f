"""``toolhut server`` processes for the benches (district.py, outbox_drain.py): started as
deployed (one database, one secret file, one shared subscription group), their output read
line by line so a bench waits for what they say (subscribed, allowlists published) rather
than for time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from toolhut_cli.embedded_broker import free_port

GROUP = "district-servers"
_STOP_LINE = re.compile(r"ingest worker stopped: (\d+) messages taken")


class ServerProcess:
    def __init__(
        self, name: str, *, db_url: str, mqtt_url: str, prefix: str, secret_file: Path,
        reminder_interval_s: float, patterns: dict[str, str], changed: threading.Condition,
        group: str | None = GROUP,
    ) -> None:  # fmt: skip
        """``patterns``: name -> regular expression; the lines matching each are counted.
        ``changed`` is notified at every line (one condition for all the servers).
        ``group``: the shared subscription's (None: a plain one, a lone server's)."""
        self.name = name
        self.lines: list[str] = []
        self._seen: Counter[str] = Counter()
        self._patterns = {key: re.compile(p) for key, p in patterns.items()}
        self._changed = changed
        reminders = {
            "interval_s": reminder_interval_s,
            "quiet_start": "00:00",  # no quiet hours: the day is compressed
            "quiet_end": "00:00",
            "stock_alerts": False,
        }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TOOLHUT_SERVER_")},
            "PYTHONUNBUFFERED": "1",
            **({} if group is None else {"TOOLHUT_SERVER_SHARED_GROUP": group}),
            "TOOLHUT_SERVER_REMINDERS": json.dumps(reminders),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "toolhut_cli.cli", "server", "--db", db_url,
             "--mqtt", mqtt_url, "--prefix", prefix, "--host", "127.0.0.1",
             "--port", str(free_port()), "--secret-file", str(secret_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
            env=env,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, name=f"server-{name}", daemon=True)
        self._reader.start()

    def seen(self, key: str) -> int:
        with self._changed:
            return self._seen[key]

    def wait_for(self, key: str, n: int, *, timeout: float) -> None:
        """Until ``n`` lines of ``key`` were printed; RuntimeError at the deadline or if
        the process exits first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._seen[key] < n:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = "\n".join(self.lines[-30:])
                    raise RuntimeError(
                        f"server {self.name}: {self._seen[key]} of {n} {key!r} lines:\n{tail}"
                    )
                self._changed.wait(min(left, 0.5))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                for key, pattern in self._patterns.items():
                    if pattern.search(line):
                        self._seen[key] += 1
                self._changed.notify_all()

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(timeout)
        return self.proc.returncode

    def taken(self) -> int | None:
        """Messages this process took from the broker, from its stop line."""
        for line in reversed(self.lines):
            match = _STOP_LINE.search(line)
            if match:
                return int(match.group(1))
        return None

    def trouble(self) -> list[str]:
        return [line for line in self.lines if " ERROR " in line or "Traceback" in line]


def wait_all(
    servers: list[ServerProcess], key: str, n: int, *, changed: threading.Condition, timeout: float
) -> None:  # fmt: skip
    """Until the servers together printed ``n`` lines of ``key`` (say every hut's list
    published, by whichever process got to it first); RuntimeError at the deadline or if
    one exits."""
    deadline = time.monotonic() + timeout
    with changed:
        while sum(server.seen(key) for server in servers) < n:
            left = deadline - time.monotonic()
            if left <= 0 or any(server.proc.poll() is not None for server in servers):
                seen = {server.name: server.seen(key) for server in servers}
                raise RuntimeError(f"{seen} of {n} {key!r} lines")
            changed.wait(min(left, 0.5))
