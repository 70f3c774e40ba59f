"""The test-only gateway clock that lets a fault test keep a hut offline for minutes of
its clock in seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hut_gateway.skewed_clock import ENV, SkewedClockError, clock_from_env, skewed_clock
from tests.support.keys import TestKeys
from tests.support.processes import run_toolhut
from toolhut.contract import utc_now

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def test_it_starts_behind_and_runs_fast() -> None:
    now = [100.0]
    clock = skewed_clock(rate=30, behind_s=3600, wall=lambda: T0, monotonic=lambda: now[0])
    assert clock() == T0 - timedelta(hours=1)
    now[0] += 4  # four real seconds: two minutes of this clock
    assert clock() == T0 - timedelta(hours=1) + timedelta(minutes=2)


def test_unset_is_the_real_clock() -> None:
    assert clock_from_env({}) is utc_now
    assert clock_from_env({ENV: " "}) is utc_now


@pytest.mark.parametrize("spec", ["fast", "rate=0", "rate=2 behind_s=-1", "rate=2 speed=3"])
def test_a_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(SkewedClockError, match=ENV):
        clock_from_env({ENV: spec})


def test_the_gateway_refuses_to_start_on_a_bad_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "rate=fast")
    credentials = TestKeys(tmp_path).credentials_file("h1")
    done = run_toolhut(
        "gateway", "--hut", "h1", "--serial", "/nonexistent", "--data-dir", str(tmp_path),
        "--credentials", str(credentials),
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert ENV in done.stderr
