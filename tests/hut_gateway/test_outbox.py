from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from hut_gateway.outbox import Outbox
from toolhut.contract import (
    CardDecision,
    CardEvent,
    DoorEvent,
    DoorState,
    new_id,
    parse_event,
    utc_now,
)
from toolhut.hut_keys import HutKeyring

RING = HutKeyring(b"k" * 32)
KEY = RING("h1")
UID = "04A1B2C3D4E5F6"


def door(seq: int) -> DoorEvent:
    return DoorEvent(id=new_id(), hut="h1", seq=seq, ts=utc_now(), state=DoorState.OPEN)


def card(seq: int) -> CardEvent:
    return CardEvent(
        id=new_id(), hut="h1", seq=seq, ts=utc_now(), card=UID, decision=CardDecision.UNLOCKED
    )


def test_sequence_numbers_survive_a_restart_and_acked_events_leave(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, key=KEY)
    first, _ = box.append(door)
    second, _ = box.append(door)
    assert (first.seq, second.seq) == (1, 2)
    assert box.remove([first.id]) == 1
    box.close()

    box = Outbox(path, key=KEY)
    third, stored = box.append(door)
    assert third.seq == 3  # not reused after the first one left the outbox
    assert [p.seq for p in box.pending()] == [2, 3]
    assert parse_event(stored.payload, key=KEY) == third
    assert box.pending()[-1] == stored  # what is published: sealed, the same bytes
    assert box.depth() == 2
    assert box.remove([second.id, third.id, "unknown-id"]) == 2
    assert box.depth() == 0


def test_the_door_is_kept_with_its_event_and_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, key=KEY)
    assert box.door() is None  # never reported
    box.set_door("closed")  # a report: no event
    assert (box.door(), box.depth()) == ("closed", 0)
    box.append(door, door="open")  # a door event, with the state it leaves
    box.append(card)  # any other event leaves the door as it was
    box.close()

    box = Outbox(path, key=KEY)
    assert (box.door(), box.depth()) == ("open", 2)

    def broken(seq: int) -> DoorEvent:
        raise ValueError("bad frame")

    with pytest.raises(ValueError):
        box.append(broken, door="closed")
    assert box.door() == "open"  # rolled back with the event that was not stored


def test_a_failing_builder_stores_nothing_and_uses_no_number(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", key=KEY)

    def broken(seq: int) -> DoorEvent:
        raise ValueError("bad frame")

    try:
        box.append(broken)
    except ValueError:
        pass
    event, _ = box.append(door)
    assert event.seq == 1
    assert box.depth() == 1


def raw_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_card_uids_are_not_in_clear_in_the_outbox_files(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, key=KEY)
    event, stored = box.append(card)
    assert UID.encode() in stored.payload  # on the wire it is (the server needs it) ...
    files = raw_bytes(path)  # ... but not in the database, its WAL or its shared memory
    assert event.id.encode() in files  # the row is there
    assert UID.encode() not in files and UID.lower().encode() not in files
    assert parse_event(box.pending()[0].payload, key=KEY) == event
    box.close()
    assert UID.encode() not in raw_bytes(path)


def test_a_plain_row_of_an_older_gateway_still_drains_sealed(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path, key=KEY).close()
    old = card(1)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT INTO outbox VALUES (1, ?, ?)", (old.id, old.to_bytes()))
        db.execute("INSERT INTO counter VALUES ('h1', 1)")
    box = Outbox(path, key=KEY)
    (pending,) = box.pending()
    assert parse_event(pending.payload, key=KEY) == old
    new, _ = box.append(door)
    assert new.seq == 2
    assert [parse_event(p.payload, key=KEY).id for p in box.pending()] == [old.id, new.id]


def test_a_row_that_does_not_open_is_skipped_with_a_log_line_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, key=KEY)
    box.append(door)
    box.close()
    other = Outbox(path, key=HutKeyring(b"x" * 32)("h1"))  # the hut's key changed
    event, _ = other.append(door)
    assert [p.id for p in other.pending()] == [event.id]
    assert other.depth() == 2  # the first row is kept, not lost
    other.pending()
    assert caplog.text.count("cannot be opened") == 1  # said once, not at every look


def test_a_row_moved_to_another_event_id_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, key=KEY)
    first, _ = box.append(card)
    second, _ = box.append(door)
    with closing(sqlite3.connect(path)) as db, db:
        (blob,) = db.execute("SELECT payload FROM outbox WHERE seq = 1").fetchone()
        db.execute("UPDATE outbox SET payload = ? WHERE seq = 2", (blob,))
    assert [p.id for p in box.pending()] == [first.id]  # the event id is bound in


def test_a_remove_does_not_sync_and_the_next_append_still_does(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", key=KEY)
    statements: list[str] = []
    box._db.set_trace_callback(statements.append)
    first, _ = box.append(door)
    assert box.remove([first.id]) == 1
    # The delete's transaction runs with synchronous NORMAL (no wait for the card) ...
    normal = statements.index("PRAGMA synchronous=NORMAL")
    delete = statements.index(f"DELETE FROM outbox WHERE id = '{first.id}'")
    full = statements.index("PRAGMA synchronous=FULL")
    assert normal < statements.index("BEGIN IMMEDIATE", normal) < delete < full
    # ... and FULL is back for every append after it: an event is on the card before it
    # is published.
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    second, _ = box.append(door)
    assert [p.id for p in box.pending()] == [second.id]
