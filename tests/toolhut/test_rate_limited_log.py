from __future__ import annotations

import logging

import pytest

from toolhut.rate_limited_log import RateLimitedLog

LOGGER = "tests.rate_limited_log"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ten_thousand_lines_log_a_bounded_number(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    clock = Ticks()
    limited = RateLimitedLog(logging.getLogger(LOGGER), limit=5, window_s=60, clock=clock)
    for i in range(10_000):
        limited.log("bad message %d", i)
    assert [r.getMessage() for r in caplog.records] == [f"bad message {i}" for i in range(5)]
    assert limited.suppressed == 9_995

    clock.now += 60  # the next window: the summary first, then lines again
    assert limited.log("bad message %d", 10_000)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[5:] == ["suppressed 9995 similar lines in the last 60 s", "bad message 10000"]


def test_flush_reports_what_was_held_back_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    limited = RateLimitedLog(logging.getLogger(LOGGER), limit=1, clock=Ticks())
    assert limited.log("one")
    assert not limited.log("two")
    limited.flush()
    limited.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "one",
        "suppressed 1 similar lines in the last 60 s",
    ]
