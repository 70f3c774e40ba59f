"""The huts' state in the API: the public list unchanged for the public and with each
hut's state for signed-in staff (its newest event's time among it, one query for the
whole list), and one hut's state (404 for no such hut, "never reported" for a hut whose
gateway never spoke). Who may ask: tests/server/test_route_roles.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from server.api.hut_state_schemas import TEXT_NEVER_REPORTED
from server.app import create_app
from server.domain.roles import Role
from server.records.huts import TEXT_NO_HUT
from server.settings import ServerSettings
from server.storage import hut_states
from server.storage.hut_states import StatusReport
from server.storage.models import EventRecord, Hut
from tests.support.staff_auth import staff_headers
from toolhut.contract import AlarmKind, DoorState, GatewayState, Status, new_id

from .conftest import T0, MovableClock

PUBLIC_FIELDS = {"id", "name", "timezone"}


def _add_huts(sessions: sessionmaker[Session], huts: list[str]) -> None:
    with sessions.begin() as db:
        db.add_all(Hut(id=hut, name=f"工具屋 {hut}") for hut in huts)


def _report(sessions: sessionmaker[Session], hut: str, **fields: Any) -> None:
    with sessions.begin() as db:
        status = Status(hut=hut, state=GatewayState.ONLINE, ts=T0, **fields)
        hut_states.record_statuses(db, [StatusReport(status, T0)])


def _event(sessions: sessionmaker[Session], hut: str, seq: int, received: timedelta) -> None:
    with sessions.begin() as db:
        db.add(
            EventRecord(
                event_id=new_id(), hut_id=hut, seq=seq, type="door", ts=T0,
                received_at=T0 + received, payload={}, outcome="applied",
            )
        )  # fmt: skip


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    _add_huts(sessions, ["hut-a", "hut-b"])
    _report(
        sessions,
        "hut-a",
        door=DoorState.OPEN,
        lock="unlocked",
        controller="ok",
        firmware="th-1.4.2",
        allowlist=3,
        outbox=2,
        alarms=[AlarmKind.HELD_OPEN],
    )
    # Received out of order: the newest by seq is what counts, not the latest to come.
    _event(sessions, "hut-a", 1, timedelta(minutes=9))
    _event(sessions, "hut-a", 2, timedelta(minutes=7))
    app = create_app(ServerSettings(), clock=clock, engine=engine)
    with TestClient(app) as test_client:
        yield test_client


def test_the_public_list_shows_what_it_always_showed(client: TestClient) -> None:
    body = client.get("/api/v1/huts").json()
    assert [set(hut) for hut in body["data"]] == [PUBLIC_FIELDS, PUBLIC_FIELDS]


def test_signed_in_staff_see_each_huts_state_in_the_list(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    viewer = staff_headers(sessions, Role.VIEWER)
    body = client.get("/api/v1/huts", headers=viewer).json()
    assert body["count"] == 2
    states = {hut["id"]: hut["state"] for hut in body["data"]}
    assert states["hut-a"] == {
        "hut_id": "hut-a",
        "reported": True,
        "note": None,
        "online": True,
        "since": "2026-11-27T02:00:00Z",
        "door": "open",
        "lock": "unlocked",
        "controller": "ok",
        "firmware": "th-1.4.2",
        "outbox": 2,
        "allowlist_version": 3,
        "alarms": ["held_open"],
        "last_status_at": "2026-11-27T02:00:00Z",
        "last_event_at": "2026-11-27T02:07:00Z",
        "changed_at": "2026-11-27T02:00:00Z",
    }
    never = states["hut-b"]
    assert (never["reported"], never["online"], never["note"]) == (
        False,
        False,
        TEXT_NEVER_REPORTED,
    )
    assert never["door"] is None and never["alarms"] == [] and never["last_event_at"] is None


def _statements(engine: Engine, client: TestClient, headers: dict[str, str]) -> int:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/api/v1/huts", headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_list_takes_the_same_queries_for_two_huts_as_for_thirty(
    client: TestClient, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    viewer = staff_headers(sessions, Role.VIEWER)
    _statements(engine, client, viewer)  # the token's first use writes its last use
    few = _statements(engine, client, viewer)
    more = [f"hut-{n:02d}" for n in range(28)]
    _add_huts(sessions, more)
    for n, hut in enumerate(more):
        _report(sessions, hut, outbox=n)
        _event(sessions, hut, 1, timedelta(seconds=n))
    assert _statements(engine, client, viewer) == few


def test_one_huts_state(client: TestClient, sessions: sessionmaker[Session]) -> None:
    viewer = staff_headers(sessions, Role.VIEWER)
    state = client.get("/api/v1/huts/hut-a/state", headers=viewer).json()
    assert (state["online"], state["door"], state["last_event_at"]) == (
        True,
        "open",
        "2026-11-27T02:07:00Z",
    )
    never = client.get("/api/v1/huts/hut-b/state", headers=viewer).json()
    assert never["reported"] is False and never["note"] == TEXT_NEVER_REPORTED
    assert never["online"] is False and never["since"] is None
    missing = client.get("/api/v1/huts/no-such-hut/state", headers=viewer)
    assert missing.status_code == 404
    assert missing.json()["detail"] == TEXT_NO_HUT.format(hut_id="no-such-hut")


def test_the_state_is_not_for_the_public(client: TestClient) -> None:
    assert client.get("/api/v1/huts/hut-a/state").status_code == 401
    assert client.get("/api/v1/huts/stream").status_code == 401
