"""A gateway clock for tests only: ``TOOLHUT_TEST_GATEWAY_CLOCK="rate=30 behind_s=21600"``
makes a ``toolhut gateway`` process date its events on a clock that starts ``behind_s``
seconds behind the real one and runs ``rate`` times as fast, so a fault test can keep a
hut offline for minutes of its clock in seconds of real time. Unset (always, outside
tests): the real UTC clock. Deliberately not a setting: no hut should ever run on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from toolhut.contract import utc_now

ENV = "TOOLHUT_TEST_GATEWAY_CLOCK"


class SkewedClockError(ValueError):
    """The variable is set but does not say ``rate=<number> behind_s=<number>``."""


def skewed_clock(
    *,
    rate: float,
    behind_s: float,
    wall: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
) -> Callable[[], datetime]:
    start, start_mono = wall() - timedelta(seconds=behind_s), monotonic()
    return lambda: start + timedelta(seconds=(monotonic() - start_mono) * rate)


def clock_from_env(environ: Mapping[str, str]) -> Callable[[], datetime]:
    spec = environ.get(ENV, "").strip()
    if not spec:
        return utc_now
    try:
        fields = dict(part.split("=", 1) for part in spec.split())
        rate, behind_s = float(fields.pop("rate")), float(fields.pop("behind_s", "0"))
    except (KeyError, ValueError) as exc:
        raise SkewedClockError(f"{ENV}={spec!r}: expected 'rate=<n> behind_s=<n>'") from exc
    if fields or rate <= 0 or behind_s < 0:
        raise SkewedClockError(f"{ENV}={spec!r}: expected 'rate=<n> behind_s=<n>', rate > 0")
    return skewed_clock(rate=rate, behind_s=behind_s)
