"""The huts' live stream for the staff console (server-sent events).

First a ``snapshot`` event (every hut's state, every alarm not resolved), then an ``hut``
event for each change of a hut's state and an ``alarm`` event for each change of an alarm
(raised, cleared, acknowledged, resolved), whichever server process made it; a comment
every 15 s while nothing happens (FastAPI's keep-alive), so proxies keep the connection.

The stream carries state, not a log: a client that fell behind (more than
``stream_queue`` changes waiting) is sent a fresh ``snapshot`` instead, and so is a client
that reconnects. Every event's id is the alarm cursor (the newest alarm change it has
seen, in microseconds since 1970): a client reconnecting with ``Last-Event-ID`` also gets
the alarms that changed since, so an alarm log misses none; an id it cannot read is
ignored.

The stream ends when the client goes away, after ``stream_max_s`` (the browser
reconnects at once and its credential is checked again), and when the server stops
(the hub closes)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from fastapi.sse import ServerSentEvent
from sqlalchemy.orm import Session, sessionmaker

from server.api.hut_state_schemas import AlarmLive, HutStateOut, LiveSnapshot
from server.hut_state.hub import LiveHub
from server.storage import alarm_changes, hut_states
from server.storage.alarm_changes import AlarmView
from server.storage.hut_states import HutView

EVENT_SNAPSHOT = "snapshot"
EVENT_HUT = "hut"
EVENT_ALARM = "alarm"
RETRY_MS = 1000  # how soon a browser reconnects after the stream ended
RESUME_LIMIT = 1000  # alarm changes sent after a reconnect's snapshot, at most
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MAX_ID_DIGITS = 19  # microseconds since 1970 stay below 10**19 until the year 318857


def cursor_id(cursor: datetime | None) -> str:
    """The event id of an alarm cursor ("0": no alarm yet)."""
    return "0" if cursor is None else str((cursor - _EPOCH) // _MICROSECOND)


def parse_cursor_id(value: str | None) -> datetime | None:
    """The alarm cursor of a Last-Event-ID; None for none, "0" or anything else."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    if len(value) > _MAX_ID_DIGITS or int(value) == 0:
        return None
    try:
        return _EPOCH + int(value) * _MICROSECOND
    except OverflowError:
        return None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    payload: LiveSnapshot
    cursor: datetime | None
    resumed: list[AlarmView]  # alarm changes after the client's Last-Event-ID


def _read_snapshot(sessions: sessionmaker[Session], resume: datetime | None) -> _Snapshot:
    with sessions() as db:
        huts = [HutStateOut.of(view) for view in hut_states.hut_views(db).values()]
        alarms = [AlarmLive.of(view) for view in alarm_changes.open_alarms(db)]
        cursor = alarm_changes.newest_alarm_change(db)
        resumed = (
            []
            if resume is None
            else alarm_changes.alarm_changes(db, since=resume, limit=RESUME_LIMIT)
        )
    return _Snapshot(LiveSnapshot(huts=huts, alarms=alarms), cursor, resumed)


def _later(cursor: datetime | None, at: datetime | None) -> datetime | None:
    if cursor is None or (at is not None and at > cursor):
        return at
    return cursor


async def hut_events(
    hub: LiveHub,
    sessions: sessionmaker[Session],
    *,
    last_event_id: str | None,
    max_s: float,
) -> AsyncIterator[ServerSentEvent]:
    """The stream's events until it ends (see the module's docstring)."""
    # Subscribed before the snapshot is read: a change committed meanwhile comes after it.
    subscription = hub.subscribe()
    try:
        snapshot = await anyio.to_thread.run_sync(
            _read_snapshot, sessions, parse_cursor_id(last_event_id)
        )
        cursor = snapshot.cursor
        yield ServerSentEvent(
            event=EVENT_SNAPSHOT, data=snapshot.payload, id=cursor_id(cursor), retry=RETRY_MS
        )
        for alarm in snapshot.resumed:
            cursor = _later(cursor, alarm.updated_at)
            yield _alarm_event(alarm, cursor)
        deadline = time.monotonic() + max_s
        while (remaining := deadline - time.monotonic()) > 0:
            take = await subscription.take(remaining)
            if take.closed:
                return
            if take.resync:
                # What is waiting was committed before this read: the snapshot holds it.
                snapshot = await anyio.to_thread.run_sync(_read_snapshot, sessions, None)
                cursor = _later(cursor, snapshot.cursor)
                yield ServerSentEvent(
                    event=EVENT_SNAPSHOT, data=snapshot.payload, id=cursor_id(cursor)
                )
                continue
            for change in take.changes:
                if isinstance(change, HutView):
                    yield ServerSentEvent(
                        event=EVENT_HUT, data=HutStateOut.of(change), id=cursor_id(cursor)
                    )
                else:
                    cursor = _later(cursor, change.updated_at)
                    yield _alarm_event(change, cursor)
    finally:
        subscription.close()


def _alarm_event(alarm: AlarmView, cursor: datetime | None) -> ServerSentEvent:
    return ServerSentEvent(event=EVENT_ALARM, data=AlarmLive.of(alarm), id=cursor_id(cursor))
