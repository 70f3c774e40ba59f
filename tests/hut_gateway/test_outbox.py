from __future__ import annotations

from pathlib import Path

from hut_gateway.outbox import Outbox
from toolhut.contract import DoorEvent, DoorState, new_id, parse_event, utc_now


def door(seq: int) -> DoorEvent:
    return DoorEvent(id=new_id(), hut="h1", seq=seq, ts=utc_now(), state=DoorState.OPEN)


def test_sequence_numbers_survive_a_restart_and_acked_events_leave(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, hut="h1")
    first, _ = box.append(door)
    second, _ = box.append(door)
    assert (first.seq, second.seq) == (1, 2)
    assert box.remove([first.id]) == 1
    box.close()

    box = Outbox(path, hut="h1")
    third, stored = box.append(door)
    assert third.seq == 3  # not reused after the first one left the outbox
    assert [p.seq for p in box.pending()] == [2, 3]
    assert parse_event(stored.payload) == third
    assert box.depth() == 2
    assert box.remove([second.id, third.id, "unknown-id"]) == 2
    assert box.depth() == 0


def test_a_failing_builder_stores_nothing_and_uses_no_number(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", hut="h1")

    def broken(seq: int) -> DoorEvent:
        raise ValueError("bad frame")

    try:
        box.append(broken)
    except ValueError:
        pass
    event, _ = box.append(door)
    assert event.seq == 1
    assert box.depth() == 1
