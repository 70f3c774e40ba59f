"""bench/scan_stages.py, run as the script it is on a few scans (SQLite, a broker of its
own): every stage of the scan's path has its row, so a function its marks wrap that was
renamed or no longer on the path fails here, not in someone's profiling session. No
timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolhut_cli.mosquitto import mosquitto_binary

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "scan_stages.py"
STAGES = (
    "scan to gateway", "frame to handler", "to the recorder", "outbox append", "publish",
    "to the server", "to the worker", "ledger", "ack out", "ack to gateway",
    "ack to feedback", "feedback frame", "to the resident",
)  # fmt: skip


def test_every_stage_of_a_scan_has_its_row() -> None:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed: the bench starts a broker of its own")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--scans", "20"], capture_output=True, text=True,
        cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("scan -> feedback on sqlite, 20 scans: p50 ")
    rows = [line.split("  ")[0].strip() for line in lines[2:15]]
    assert rows == list(STAGES), done.stdout
    for part in ("raw tap", "broker round trip", "durable commit"):
        assert any(line.strip().startswith(part) for line in lines[15:]), done.stdout
