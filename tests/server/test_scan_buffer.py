"""Scans buffered during ingest reach the table at commit, are visible to readers in the
transaction, and vanish with a rolled-back transaction or savepoint."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import SessionMode
from server.storage import door_sessions, scan_buffer
from server.storage.models import DoorSession, Hut, SessionScan

from .conftest import T0


def _door(session: Session, key: str) -> DoorSession:
    if session.get(Hut, "h1") is None:
        session.add(Hut(id="h1", name="h1", timezone="Asia/Shanghai", allowlist_version=0))
    return door_sessions.get_or_open(session, hut_id="h1", key=key, at=T0, mode=SessionMode.LENDING)


def _scan(session: Session, door: DoorSession, seq: int, action: str = "count") -> None:
    door_sessions.record_scan(
        session, door, seq=seq, at=T0, text=f"T{seq:04d}", tag=f"T{seq:04d}", action=action
    )


def _scans(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(SessionScan.text).order_by(SessionScan.seq)))


def test_buffered_scans_are_written_at_commit_and_read_back_inside(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        door = _door(session, "s1")  # not flushed: no id yet
        _scan(session, door, 1)
        _scan(session, door, 2)
        _scan(session, door, 2)
        assert door_sessions.counted_tags(session, door) == {"T0001": 1, "T0002": 2}
        _scan(session, door, 3)  # after the read: still written at commit
    assert _scans(sessions) == ["T0001", "T0002", "T0002", "T0003"]
    with sessions() as session:
        door = session.scalars(select(DoorSession)).one()
        assert door.scans == 4
        assert [s.seq for s in door_sessions.scans_of(session, door)] == [1, 2, 2, 3]


def test_a_rolled_back_transaction_leaves_no_scans(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        with pytest.raises(RuntimeError), session.begin():
            _scan(session, _door(session, "s1"), 1)
            raise RuntimeError("the batch failed")
        with session.begin():  # the same session: nothing left over from the first
            _scan(session, _door(session, "s2"), 2)
    assert _scans(sessions) == ["T0002"]


def test_a_failed_savepoint_drops_only_its_own_scans(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        door = _door(session, "s1")
        _scan(session, door, 1)
        scan_buffer.write_pending(session)  # as ledger does before a savepoint
        with pytest.raises(RuntimeError), session.begin_nested():
            _scan(session, door, 2)
            raise RuntimeError("the held event failed")
        scan_buffer.discard_pending(session)
        _scan(session, door, 3)
    assert _scans(sessions) == ["T0001", "T0003"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SessionScan)) == 2


def test_any_session_writes_its_buffer_not_only_the_factorys(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with Session(engine) as session, session.begin():  # not from make_sessionmaker
        _scan(session, _door(session, "s1"), 1)
    assert _scans(sessions) == ["T0001"]
