"""A batch's updates of loaded rows, held by the effect writer (storage/row_updates.py):
in the database at finish, seen by every read in the transaction before that, never
overwriting a later change the ORM flushes, and gone with a rolled-back savepoint."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import SessionMode
from server.domain.changes import DoorChanged, DoorOpened, Effects
from server.domain.ledger_state import DoorState
from server.storage.effect_writer import EffectWriter
from server.storage.models import DoorSession, Hut

from .conftest import T0


def _stored(sessions: sessionmaker[Session], key: str) -> DoorSession:
    with sessions() as db:
        return db.scalars(select(DoorSession).where(DoorSession.key == key)).one()


def _writer_with_loaded_door(db: Session, key: str) -> tuple[EffectWriter, DoorSession]:
    """A writer past its first command (so its changes are a batch's) and a door session
    already in the database, loaded."""
    if db.get(Hut, "h1") is None:
        db.add(Hut(id="h1", name="h1", timezone="Asia/Shanghai", allowlist_version=0))
        db.flush()
    writer = EffectWriter(db)
    writer.apply(Effects((DoorOpened(DoorState("h1", key, SessionMode.LENDING, T0)),)))
    return writer, writer.working.doors[("h1", key)]  # type: ignore[return-value]


def _scans(key: str, n: int) -> Effects:
    return Effects((DoorChanged(DoorState("h1", key, SessionMode.LENDING, T0, scans=n)),))


def test_held_updates_are_read_back_before_finish_and_stored_at_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as db, db.begin():
        writer, door = _writer_with_loaded_door(db, "s1")
        writer.apply(_scans("s1", 2))
        assert door.scans == 2
        assert door not in db.dirty  # held by the writer, not tracked by the ORM
        # A read in the transaction sees the row as the writer left it.
        assert db.scalar(select(DoorSession.scans).where(DoorSession.key == "s1")) == 2
        writer.apply(_scans("s1", 3))  # after the read: held again
        writer.finish()
        assert db.scalar(select(DoorSession.scans).where(DoorSession.key == "s1")) == 3
    assert _stored(sessions, "s1").scans == 3


def test_a_later_change_through_the_orm_is_not_overwritten(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as db, db.begin():
        writer, door = _writer_with_loaded_door(db, "s1")
        writer.apply(_scans("s1", 2))  # held
        door.scans = 7  # then set on the object: the flush writes it, after the held value
        db.flush()
        writer.finish()
    assert _stored(sessions, "s1").scans == 7


def test_a_failed_savepoint_drops_the_updates_it_held(sessions: sessionmaker[Session]) -> None:
    with sessions() as db, db.begin():
        writer, door = _writer_with_loaded_door(db, "s1")
        writer.apply(_scans("s1", 1))
        with pytest.raises(RuntimeError), writer.savepoint():  # writes what came before
            writer.apply(_scans("s1", 5))
            assert door.scans == 5
            raise RuntimeError("the held event failed")
        assert door.scans == 1  # read again: the savepoint's update is gone
        writer.finish()
    assert _stored(sessions, "s1").scans == 1


def test_a_session_used_again_after_a_failed_transaction_writes_nothing_of_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as db:
        with db.begin():
            _writer_with_loaded_door(db, "s1")
        with pytest.raises(RuntimeError), db.begin():
            writer = EffectWriter(db)
            writer.apply(Effects(()))  # past the first command
            writer.apply(_scans("s1", 4))  # held, never finished
            raise RuntimeError("the batch failed")
        with db.begin():  # the next transaction's statements do not write the held value
            assert db.scalar(select(DoorSession.scans).where(DoorSession.key == "s1")) == 0
    assert _stored(sessions, "s1").scans == 0
