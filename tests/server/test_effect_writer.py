"""Scans the effect writer buffers reach the table when it finishes (before commit), are
visible to the loader's reads in the transaction, and vanish with a rolled-back
transaction or savepoint."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import Action, SessionMode
from server.domain.changes import DoorChanged, DoorOpened, Effects, ScanRecorded
from server.domain.ledger_state import DoorState
from server.storage import door_sessions
from server.storage.effect_writer import EffectWriter
from server.storage.models import DoorSession, Hut, SessionScan
from server.storage.snapshots import Snapshots

from .conftest import T0


class _Door:
    """One door session written through the writer, one scan at a time."""

    def __init__(self, db: Session, writer: EffectWriter, key: str) -> None:
        if db.get(Hut, "h1") is None:
            db.add(Hut(id="h1", name="h1", timezone="Asia/Shanghai", allowlist_version=0))
            db.flush()
        self.writer = writer
        self.state = DoorState("h1", key, SessionMode.LENDING, T0)
        # A transaction's first command inserts it at once; a later one leaves it to the flush.
        writer.apply(Effects((DoorOpened(self.state),)))

    def scan(self, seq: int, action: Action = Action.COUNT) -> None:
        self.state = replace(self.state, scans=self.state.scans + 1)
        tag = f"T{seq:04d}"
        recorded = ScanRecorded(self.state.ref, seq, T0, tag, tag, action)
        self.writer.apply(Effects((DoorChanged(self.state), recorded)))


def _scans(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return list(db.scalars(select(SessionScan.text).order_by(SessionScan.seq)))


def test_buffered_scans_are_written_at_finish_and_read_back_inside(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as db, db.begin():
        writer = EffectWriter(db)
        door = _Door(db, writer, "s1")
        door.scan(1)
        door.scan(2)
        door.scan(2)
        loader = Snapshots(db, writer)
        assert loader.counted_tags(door.state) == {"T0001": 1, "T0002": 2}
        door.scan(3)  # after the read: still written when the writer finishes
        writer.finish()
    assert _scans(sessions) == ["T0001", "T0002", "T0002", "T0003"]
    with sessions() as db:
        row = db.scalars(select(DoorSession)).one()
        assert row.scans == 4
        assert [s.seq for s in door_sessions.scans_of(db, row)] == [1, 2, 2, 3]


def test_a_rolled_back_transaction_leaves_no_scans(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        with pytest.raises(RuntimeError), db.begin():
            writer = EffectWriter(db)
            _Door(db, writer, "s1").scan(1)
            writer.finish()
            raise RuntimeError("the batch failed")
        with db.begin():  # the same database session: nothing left over from the first
            writer = EffectWriter(db)
            _Door(db, writer, "s2").scan(2)
            writer.finish()
    assert _scans(sessions) == ["T0002"]


def test_a_failed_savepoint_drops_only_its_own_scans(sessions: sessionmaker[Session]) -> None:
    with sessions() as db, db.begin():
        writer = EffectWriter(db)
        door = _Door(db, writer, "s1")
        door.scan(1)
        with pytest.raises(RuntimeError), writer.savepoint():  # writes what came before
            door.scan(2)
            raise RuntimeError("the held event failed")
        door.scan(3)
        writer.finish()
    assert _scans(sessions) == ["T0001", "T0003"]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(SessionScan)) == 2


def test_a_failed_savepoint_undoes_what_its_first_command_wrote_at_once(
    sessions: sessionmaker[Session],
) -> None:
    # A transaction's first command writes its rows at once, not through the flush: rolled
    # back with its savepoint, the session must keep none of what the database lost.
    with sessions() as db, db.begin():
        _Door(db, EffectWriter(db), "s1")
    with sessions() as db, db.begin():
        writer = EffectWriter(db)
        kept = db.scalars(select(DoorSession)).one()
        changed = DoorState("h1", "s1", SessionMode.LENDING, T0, scans=5)
        opened = DoorState("h1", "s2", SessionMode.LENDING, T0)
        with pytest.raises(RuntimeError), writer.savepoint():
            writer.apply(Effects((DoorChanged(changed), DoorOpened(opened))))
            assert kept.scans == 5
            inserted = writer.working.doors[("h1", "s2")]
            assert inserted is not None and inserted in db
            raise RuntimeError("the held event failed")
        assert kept.scans == 0  # read again: the update is gone
        assert inserted not in db  # and the inserted row is out of the session
        _Door(db, writer, "s2")  # its id may be the rolled-back row's
        writer.finish()
    with sessions() as db:
        assert sorted(db.scalars(select(DoorSession.key))) == ["s1", "s2"]


def test_any_session_writes_its_buffer_not_only_the_factorys(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with Session(engine) as db, db.begin():  # not from make_sessionmaker
        writer = EffectWriter(db)
        _Door(db, writer, "s1").scan(1)
        writer.finish()
    assert _scans(sessions) == ["T0001"]
