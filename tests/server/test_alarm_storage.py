"""Alarms in the database, on SQLite and PostgreSQL: one incident per hut and kind however
many raise it at once, repeats and clears within it, the hut's own alarm events through
the ledger (their own time, once each), the scan by nobody, and the hut watch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from server.alarms.watch import HutWatch
from server.domain.alarm_rules import raised
from server.domain.alarms import AlarmKind, AlarmSource, WatchLimits
from server.domain.changes import AlarmCleared
from server.domain.ledger_state import AnomalyKind
from server.ledger import apply_event
from server.seed import seed_demo
from server.storage import alarms
from server.storage.alarms import Raised
from server.storage.models import Anomaly, Hut
from server.storage.operations_models import Alarm, HutState
from tests.support.processes import poll_until

from .conftest import T0
from .factories import alarm, controller, scan

HUT = "demo-hut"
FORCED = raised(HUT, AlarmKind.FORCED_OPEN, AlarmSource.CONTROLLER, at=T0, heard_at=T0)


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as db:
        seed_demo(db)
    return sessions


def _alarms(sessions: sessionmaker[Session]) -> list[Alarm]:
    with sessions() as db:
        return list(db.scalars(select(Alarm).order_by(Alarm.id)))


def _raise(sessions: sessionmaker[Session], change: object = FORCED) -> Raised:
    with sessions.begin() as db:
        return alarms.raise_alarm(db, change)  # type: ignore[arg-type]


def _resolve_all(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        for row in db.scalars(select(Alarm).where(Alarm.resolved_at.is_(None))):
            row.resolved_at = T0


def test_a_raise_opens_one_incident_and_a_second_raise_changes_nothing(
    seeded: sessionmaker[Session],
) -> None:
    assert _raise(seeded) is Raised.NEW
    assert _raise(seeded) is Raised.ALREADY
    [row] = _alarms(seeded)
    assert (row.hut_id, row.kind, row.source, row.active, row.repeats) == (
        HUT,
        "forced_open",
        "controller",
        True,
        0,
    )
    assert row.raised_at == T0 and row.notify_due_at == T0  # told to staff: due at once
    assert row.updated_at == T0


def test_a_cleared_incident_started_again_is_a_repeat_of_the_same_one(
    seeded: sessionmaker[Session],
) -> None:
    _raise(seeded)
    later = T0 + timedelta(minutes=1)
    with seeded.begin() as db:
        cleared = AlarmCleared(HUT, AlarmKind.FORCED_OPEN, later, later)
        assert alarms.clear_alarm(db, cleared)
        assert not alarms.clear_alarm(db, cleared)  # nothing active to clear any more
    [row] = _alarms(seeded)
    assert (row.active, row.cleared_at, row.updated_at) == (False, later, later)
    again = raised(HUT, AlarmKind.FORCED_OPEN, AlarmSource.CONTROLLER, at=later, heard_at=later)
    assert _raise(seeded, again) is Raised.AGAIN
    [row] = _alarms(seeded)
    assert (row.active, row.cleared_at, row.repeats, row.raised_at) == (True, None, 1, T0)


def test_once_resolved_the_same_condition_is_a_new_incident(
    seeded: sessionmaker[Session],
) -> None:
    _raise(seeded)
    _resolve_all(seeded)
    assert _raise(seeded) is Raised.NEW
    assert [row.resolved_at is None for row in _alarms(seeded)] == [False, True]


def _race(sessions: sessionmaker[Session], raisers: int) -> list[Raised]:
    """``raisers`` threads raising the same incident at once, each in its transaction."""
    start = threading.Barrier(raisers)
    results: list[Raised] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(10)
            results.append(_raise(sessions))
        except BaseException as exc:  # reported below, with the others' results
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(raisers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def test_concurrent_raisers_make_one_incident(seeded: sessionmaker[Session]) -> None:
    for _round in range(3):
        results = _race(seeded, 2)
        assert sorted(results) == [Raised.ALREADY, Raised.NEW]
        [row] = [row for row in _alarms(seeded) if row.resolved_at is None]
        assert row.repeats == 0
        _resolve_all(seeded)
    assert len(_alarms(seeded)) == 3


@pytest.mark.postgres
def test_a_raiser_waiting_on_anothers_uncommitted_incident_finds_it_after_the_commit(
    seeded: sessionmaker[Session], db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's row locks: SQLite writes one at a time anyway")
    second: list[Raised] = []
    with seeded.begin() as first:
        assert alarms.raise_alarm(first, FORCED) is Raised.NEW  # not committed yet
        thread = threading.Thread(target=lambda: second.append(_raise(seeded)))
        thread.start()
        # Evidence that the second raiser waits on the first one's row, not a pause.
        poll_until(lambda: _waiting_on_a_lock(seeded), what="the second raiser waiting")
    thread.join(30)
    assert second == [Raised.ALREADY]
    assert len(_alarms(seeded)) == 1


def _waiting_on_a_lock(sessions: sessionmaker[Session]) -> bool:
    with sessions() as db:
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(db.scalar(query))


# Through the ledger.


def _apply(sessions: sessionmaker[Session], *events: object, received_at: object = T0) -> None:
    with sessions.begin() as db:
        hut = db.get(Hut, HUT)
        assert hut is not None
        for event in events:
            apply_event(db, event, hut=hut, received_at=received_at)  # type: ignore[arg-type]


def test_an_alarm_replayed_after_an_outage_keeps_its_own_time_and_is_applied_once(
    seeded: sessionmaker[Session],
) -> None:
    heard = T0 + timedelta(hours=5)
    forced = alarm(HUT, 1, ts=T0)
    _apply(seeded, forced, forced, received_at=heard)  # the same event twice: once
    [row] = _alarms(seeded)
    assert row.raised_at == T0 and row.updated_at == heard and row.event_id == forced.id
    future = alarm(HUT, 2, AlarmKind.TAMPER, ts=heard + timedelta(days=1))  # a clock ahead
    _apply(seeded, future, received_at=heard)
    assert _alarms(seeded)[1].raised_at == heard  # never in our future


def test_the_huts_door_and_controller_alarms_start_and_end_through_the_ledger(
    seeded: sessionmaker[Session],
) -> None:
    t = [T0 + timedelta(seconds=n) for n in range(6)]
    _apply(
        seeded,
        alarm(HUT, 1, ts=t[0]),
        alarm(HUT, 2, active=False, ts=t[1]),
        controller(HUT, 3, "silent", ts=t[2]),
        controller(HUT, 4, "absent", ts=t[3]),
        controller(HUT, 5, "hello", ts=t[4]),
        alarm(HUT, 6, AlarmKind.HELD_OPEN, active=False, ts=t[5]),  # never raised: nothing
        received_at=t[5],
    )
    rows = {row.kind: row for row in _alarms(seeded)}
    assert set(rows) == {"forced_open", "controller_silent", "controller_absent"}
    assert (rows["forced_open"].active, rows["forced_open"].cleared_at) == (False, t[1])
    for kind in ("controller_silent", "controller_absent"):
        assert (rows[kind].source, rows[kind].active, rows[kind].cleared_at) == (
            "gateway",
            False,
            t[4],
        )
        assert rows[kind].notify_due_at is None  # listed for staff, not told at once


def test_a_scan_by_nobody_is_an_anomaly_for_staff(seeded: sessionmaker[Session]) -> None:
    _apply(seeded, scan(HUT, 1, "T9999", card=None), scan(HUT, 2, "C0001", card=None))
    with seeded() as db:
        rows = list(db.scalars(select(Anomaly).order_by(Anomaly.id)))
    assert [row.kind for row in rows] == [AnomalyKind.SCAN_BY_NOBODY.value] * 2
    assert rows[0].detail.endswith(": T9999") and rows[0].member_id is None


# The watch.


def _state(
    sessions: sessionmaker[Session],
    *,
    online: bool,
    since: object = T0,
    outbox: int | None = None,
) -> None:
    with sessions.begin() as db:
        row = db.get(HutState, HUT)
        if row is None:
            row = HutState(hut_id=HUT, received_at=T0, changed_at=T0, alarms=[])
            db.add(row)
        row.online, row.since, row.outbox = online, since, outbox  # type: ignore[assignment]


def _watcher(sessions: sessionmaker[Session]) -> Callable[[object], tuple[object, ...]]:
    watch = HutWatch(sessions=sessions, limits=WatchLimits(timedelta(minutes=5), 500))
    return watch.watch  # type: ignore[return-value]


def test_the_watch_raises_hut_offline_once_per_offline_period(
    seeded: sessionmaker[Session],
) -> None:
    watch = _watcher(seeded)
    _state(seeded, online=False)
    assert watch(T0 + timedelta(minutes=4)) == ()
    assert len(watch(T0 + timedelta(minutes=5))) == 1
    assert watch(T0 + timedelta(minutes=6)) == ()  # one incident, however often it looks
    [row] = _alarms(seeded)
    assert (row.kind, row.source, row.raised_at, row.active) == ("hut_offline", "server", T0, True)
    _resolve_all(seeded)  # staff resolved it while the hut is still away: not raised again
    assert watch(T0 + timedelta(minutes=30)) == ()
    back = T0 + timedelta(minutes=40)
    _state(seeded, online=True, since=back)
    assert watch(back + timedelta(seconds=1)) == ()  # resolved: nothing left to clear
    away = back + timedelta(minutes=1)
    _state(seeded, online=False, since=away)
    assert len(watch(away + timedelta(minutes=5))) == 1  # a new period: a new incident
    assert [row.resolved_at is None for row in _alarms(seeded)] == [False, True]


def test_the_watch_clears_hut_offline_when_the_hut_is_back(
    seeded: sessionmaker[Session],
) -> None:
    watch = _watcher(seeded)
    _state(seeded, online=False)
    watch(T0 + timedelta(minutes=10))
    back = T0 + timedelta(minutes=12)
    _state(seeded, online=True, since=back)
    [cleared] = watch(back + timedelta(seconds=2))
    assert isinstance(cleared, AlarmCleared)
    [row] = _alarms(seeded)
    assert (row.active, row.cleared_at, row.resolved_at) == (False, back, None)


def test_two_watches_at_once_raise_one_incident(seeded: sessionmaker[Session]) -> None:
    _state(seeded, online=False, outbox=900)
    start = threading.Barrier(2)
    now = T0 + timedelta(minutes=9)

    def look() -> None:
        start.wait(10)
        _watcher(seeded)(now)

    threads = [threading.Thread(target=look) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    [row] = _alarms(seeded)  # an offline hut's outbox is not judged
    assert (row.kind, row.repeats) == ("hut_offline", 0)


def test_the_watch_raises_and_clears_an_outbox_backlog(seeded: sessionmaker[Session]) -> None:
    watch = _watcher(seeded)
    _state(seeded, online=True, outbox=800)
    watch(T0)
    [row] = _alarms(seeded)
    assert (row.kind, row.active, row.notify_due_at) == ("outbox_backlog", True, None)
    _state(seeded, online=True, outbox=100)
    watch(T0 + timedelta(seconds=2))
    assert not _alarms(seeded)[0].active
