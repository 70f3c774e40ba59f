"""The huts' live stream, event by event (without HTTP: tests/server/test_hut_stream.py
reads it off a real server): the snapshot first, then the changes the hub carries, a
fresh snapshot for a client that fell behind, the alarms since a reconnecting client's
Last-Event-ID, and the end: at shutdown and after stream_max_s."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.sse import ServerSentEvent
from sqlalchemy.orm import Session, sessionmaker

from server.api.hut_state_schemas import TEXT_NEVER_REPORTED
from server.api.live_stream import cursor_id, hut_events, parse_cursor_id
from server.hut_state.hub import LiveHub
from server.storage import hut_states
from server.storage.hut_states import StatusReport
from server.storage.models import Hut
from server.storage.operations_models import Alarm
from toolhut.contract import DoorState, GatewayState, Status

from .conftest import T0


def _data(event: ServerSentEvent) -> Any:
    data = event.data
    return json.loads(data.model_dump_json()) if hasattr(data, "model_dump_json") else data


@pytest.fixture
def huts(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as db:
        db.add_all([Hut(id="hut-a", name="甲"), Hut(id="hut-b", name="乙")])
        db.flush()
        status = Status(hut="hut-a", state=GatewayState.ONLINE, ts=T0, door=DoorState.CLOSED)
        hut_states.record_statuses(db, [StatusReport(status, T0)])
        db.add(
            Alarm(hut_id="hut-a", kind="tamper", source="controller", raised_at=T0, updated_at=T0)
        )
    return sessions


async def _take(events: AsyncIterator[ServerSentEvent], n: int) -> list[ServerSentEvent]:
    return [await asyncio.wait_for(anext(events), 30) for _ in range(n)]


def test_the_snapshot_comes_first_then_the_changes_the_hub_carries(
    huts: sessionmaker[Session],
) -> None:
    hub = LiveHub()

    async def run() -> list[ServerSentEvent]:
        events = hut_events(hub, huts, last_event_id=None, max_s=60)
        [snapshot] = await _take(events, 1)
        with huts() as db:
            view = hut_states.hut_views(db, ["hut-b"])["hut-b"]
        hub.publish(view)
        got = [snapshot, *await _take(events, 1)]
        await events.aclose()
        return got

    snapshot, change = asyncio.run(run())
    assert snapshot.event == "snapshot" and snapshot.retry == 1000
    body = _data(snapshot)
    states = {hut["hut_id"]: hut for hut in body["huts"]}
    assert states["hut-a"]["online"] and states["hut-a"]["door"] == "closed"
    assert states["hut-b"]["reported"] is False and states["hut-b"]["note"] == TEXT_NEVER_REPORTED
    assert [(a["hut_id"], a["kind"], a["resolved"]) for a in body["alarms"]] == [
        ("hut-a", "tamper", False)
    ]
    assert body["alarms"][0]["raised_at"].startswith(T0.strftime("%Y-%m-%dT%H:%M"))  # "since"
    assert snapshot.id == cursor_id(T0)
    assert change.event == "hut" and _data(change)["hut_id"] == "hut-b"
    assert hub.subscribers == 0  # the stream left the hub when it closed


def test_a_client_that_fell_behind_gets_a_fresh_snapshot_instead(
    huts: sessionmaker[Session],
) -> None:
    hub = LiveHub(limit=2)

    async def run() -> list[ServerSentEvent]:
        events = hut_events(hub, huts, last_event_id=None, max_s=60)
        first = await _take(events, 1)
        with huts() as db:
            view = hut_states.hut_views(db, ["hut-a"])["hut-a"]
        for _ in range(5):  # while the stream does not read: more than it may hold
            hub.publish(view)
        got = first + await _take(events, 1)
        await events.aclose()
        return got

    first, second = asyncio.run(run())
    assert (first.event, second.event) == ("snapshot", "snapshot")


def test_a_reconnecting_client_gets_the_alarms_changed_since_its_last_event_id(
    huts: sessionmaker[Session],
) -> None:
    later = T0 + timedelta(minutes=5)
    with huts.begin() as db:
        db.add(
            Alarm(
                hut_id="hut-a", kind="forced_open", source="controller", raised_at=later,
                updated_at=later, active=False, resolved_at=later,
            )
        )  # fmt: skip

    async def run(last_event_id: str | None) -> list[ServerSentEvent]:
        events = hut_events(LiveHub(), huts, last_event_id=last_event_id, max_s=0.5)
        return [event async for event in events]  # ends after max_s

    resumed = asyncio.run(run(cursor_id(T0 + timedelta(minutes=1))))
    assert [event.event for event in resumed] == ["snapshot", "alarm"]
    alarm = _data(resumed[1])
    assert (alarm["kind"], alarm["resolved"]) == ("forced_open", True)
    assert resumed[1].id == cursor_id(later)
    # The snapshot holds only what is open; a fresh client, or an id that is no cursor,
    # gets the snapshot alone.
    assert [a["kind"] for a in _data(resumed[0])["alarms"]] == ["tamper"]
    for last_event_id in (None, "0", "not-an-id", "9" * 40, "-5"):
        assert [event.event for event in asyncio.run(run(last_event_id))] == ["snapshot"]


def test_the_stream_ends_when_the_hub_closes(huts: sessionmaker[Session]) -> None:
    hub = LiveHub()

    async def run() -> list[str | None]:
        events = hut_events(hub, huts, last_event_id=None, max_s=600)
        names = [event.event for event in await _take(events, 1)]
        asyncio.get_running_loop().call_later(0.05, hub.close)
        names += [event.event async for event in events]
        return names

    assert asyncio.run(asyncio.wait_for(run(), 30)) == ["snapshot"]


def test_cursor_ids_read_back() -> None:
    at = T0 + timedelta(microseconds=123)
    assert parse_cursor_id(cursor_id(at)) == at
    assert cursor_id(None) == "0" and parse_cursor_id("0") is None
