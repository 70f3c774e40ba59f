from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hut_gateway.outbox import Outbox, Pending
from hut_gateway.recorder import Build, Envelope, Recorder
from toolhut.contract import AnyEvent, DoorEvent, DoorState, parse_event
from toolhut.hut_keys import HutKeyring

KEY = HutKeyring(b"r" * 32)("h1")

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def door(state: DoorState) -> Build:
    return lambda env: DoorEvent(**env, state=state)


def test_events_are_written_in_order_with_the_time_they_happened_and_a_clean_stop_loses_none(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", key=KEY)
    published: list[Pending] = []
    times = iter([T0, T0.replace(minute=1), T0.replace(minute=2)])
    recorder = Recorder(outbox, hut="h1", publish=published.append, clock=lambda: next(times))
    recorder.start()
    ids = [recorder.record(door(s)) for s in (DoorState.OPEN, DoorState.CLOSED, DoorState.OPEN)]
    recorder.stop()

    events = [parse_event(p.payload, key=KEY) for p in outbox.pending()]
    assert [e.id for e in events] == ids
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.ts.minute for e in events] == [0, 1, 2]
    assert [p.id for p in published] == ids


def test_a_failing_event_is_logged_and_the_next_ones_are_still_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", key=KEY)
    recorder = Recorder(outbox, hut="h1", publish=lambda p: None, clock=lambda: T0)
    recorder.start()

    def broken(env: Envelope) -> AnyEvent:
        raise ValueError("a frame the contract refuses")

    bad = recorder.record(broken)
    good = recorder.record(door(DoorState.OPEN))
    recorder.stop()
    assert [p.id for p in outbox.pending()] == [good]
    assert f"could not record event {bad}" in caplog.text
