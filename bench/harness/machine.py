"""The machine a result was taken on: what decides how fast the parts can go (cores,
memory, CPU, the versions of Python, Mosquitto, SQLite and PostgreSQL) and how busy it was
(load average before and after), so a figure can be read against its machine."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (as ``uptime`` shows them)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine(postgres_url: str | None) -> dict[str, Any]:
    """The static half of the block; the load averages are added by the bench run."""
    return {
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cpu": _cpu_model(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "mosquitto": _mosquitto_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(postgres_url),
    }


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    found = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(found.group(1)) / 2**20, 1) if found else None


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def _mosquitto_version() -> str | None:
    from toolhut_cli.mosquitto import mosquitto_binary

    binary = mosquitto_binary()
    if binary is None:
        return None
    try:
        # ``-h`` prints the version first and exits 3: that is not a failure here.
        done = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"mosquitto version (\S+)", done.stdout + done.stderr)
    return found.group(1) if found else None


def _postgres_version(url: str | None) -> str | None:
    if url is None:
        return None
    import psycopg

    from server.storage import normalize_db_url

    plain = normalize_db_url(url).replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(plain, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]).split()[0] if row else None
