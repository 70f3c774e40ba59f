"""The huts' live stream off a real server (ServerRuntime: HTTP, the real broker, the
hut-state tracker): the snapshot, a hut's status published on the broker pushed to the
open stream within a second, an alarm another process wrote pushed too, and the server
stopping within seconds with the stream open, which ends it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.app import ServerRuntime
from server.domain.roles import Role
from server.reminders.config import ReminderSettings
from server.settings import ServerSettings
from server.storage import make_engine, make_sessionmaker, migrate
from server.storage.models import Hut
from server.storage.operations_models import Alarm
from tests.support.keys import TestKeys
from tests.support.mqtt_probe import Probe
from tests.support.processes import http_json, poll_until
from tests.support.sse import SseEvent, SseReader
from tests.support.staff_auth import staff_headers
from toolhut.contract import DoorState, GatewayState, Status, Topics
from toolhut.mqtt import MqttEndpoint

HUT = "stream-hut"
PUSH_WITHIN_S = 1.0  # the promise to the console
TRACKER_CONNECT_S = 20.0


@dataclass
class Live:
    runtime: ServerRuntime
    sessions: sessionmaker[Session]
    viewer: dict[str, str]
    probe: Probe
    topics: Topics
    keys: TestKeys

    def stream(self, **headers: str) -> SseReader:
        reader = SseReader(
            f"{self.runtime.base_url}/api/v1/huts/stream", headers={**self.viewer, **headers}
        )
        assert reader.status == 200
        return reader

    def publish_status(self, door: DoorState) -> float:
        """A status of the hut as its gateway seals it; when it was published."""
        status = Status(
            hut=HUT, state=GatewayState.ONLINE, ts=datetime.now(UTC), door=door, outbox=0
        )
        published = time.monotonic()
        self.probe.publish(self.topics.status(HUT), status.sealed(self.keys.key(HUT)), retain=True)
        return published


@pytest.fixture
def live(db_url: str, mqtt_url: str, topic_prefix: str, keys: TestKeys) -> Iterator[Live]:
    migrate(db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as db:
        db.add(Hut(id=HUT, name="直播工具屋"))
    viewer = staff_headers(sessions, Role.VIEWER)
    settings = ServerSettings(
        db_url=db_url,
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
        secret_file=keys.secret_file,
        reminders=ReminderSettings(enabled=False),
    )
    runtime = ServerRuntime(settings)
    runtime.start()
    probe = Probe(MqttEndpoint.parse(mqtt_url))
    assert probe.connect()
    topics = Topics(topic_prefix)
    try:
        assert runtime.hut_state.wait_connected(TRACKER_CONNECT_S)
        yield Live(runtime, sessions, viewer, probe, topics, keys)
    finally:
        probe.publish(topics.status(HUT), b"", retain=True)  # leave no retained status
        probe.client.disconnect()
        probe.client.loop_stop()
        runtime.stop()
        engine.dispose()


def _hut(door: str) -> Callable[[SseEvent], bool]:
    def match(event: SseEvent) -> bool:
        return event.event == "hut" and event.data["door"] == door

    return match


def test_a_status_on_the_broker_reaches_the_open_stream_within_a_second(live: Live) -> None:
    reader = live.stream()
    try:
        snapshot = reader.next()
        assert snapshot.event == "snapshot"
        [hut] = snapshot.data["huts"]
        assert (hut["hut_id"], hut["reported"], hut["online"]) == (HUT, False, False)
        for door in (DoorState.CLOSED, DoorState.OPEN):
            published = live.publish_status(door)
            event = reader.wait_for(_hut(door.value), timeout=10)
            assert event.arrived - published < PUSH_WITHIN_S, event.arrived - published
            assert event.data["online"] is True and event.data["hut_id"] == HUT
    finally:
        reader.close()


def test_a_bad_status_on_the_broker_changes_nothing_and_the_next_good_one_is_taken(
    live: Live,
) -> None:
    reader = live.stream()
    try:
        assert reader.next().event == "snapshot"
        forged = Status(hut=HUT, state=GatewayState.ONLINE, ts=datetime.now(UTC), door="open")
        live.probe.publish(live.topics.status(HUT), forged.to_bytes(), retain=True)  # unsealed
        live.probe.publish(live.topics.status(HUT), b"\x00garbage", retain=True)
        live.publish_status(DoorState.CLOSED)
        event = reader.wait_for(lambda e: e.event == "hut", timeout=10)
        assert event.data["door"] == "closed"  # the first change the stream heard
        state = http_json(f"{live.runtime.base_url}/api/v1/huts/{HUT}/state", headers=live.viewer)
        assert (state["online"], state["door"]) == (True, "closed")
    finally:
        reader.close()


def test_the_stream_leaves_the_hub_when_the_client_goes_away(live: Live) -> None:
    hub = live.runtime.hub
    assert hub is not None
    reader = live.stream()
    assert reader.next().event == "snapshot"
    assert hub.subscribers == 1
    reader.close()
    poll_until(lambda: hub.subscribers == 0, timeout=10, what="the stream to end")


def test_an_idle_stream_gets_a_heartbeat_comment(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fastapi.routing._PING_INTERVAL", 0.2)  # 15 s in production
    reader = live.stream()
    try:
        assert reader.next().event == "snapshot"
        poll_until(lambda: reader.comments >= 2, timeout=10, what="heartbeat comments")
    finally:
        reader.close()


def test_an_alarm_written_by_another_process_reaches_the_stream(live: Live) -> None:
    reader = live.stream()
    try:
        assert reader.next().event == "snapshot"
        now = datetime.now(UTC)
        with live.sessions.begin() as db:  # as another server process's alarm would be
            db.add(
                Alarm(hut_id=HUT, kind="tamper", source="controller", raised_at=now, updated_at=now)
            )
        event = reader.wait_for(lambda e: e.event == "alarm", timeout=10)
        assert (event.data["hut_id"], event.data["kind"], event.data["active"]) == (
            HUT,
            "tamper",
            True,
        )
        assert event.id is not None and int(event.id) > 0
        # Reconnecting with that id: the snapshot holds the open alarm.
        again = live.stream(**{"Last-Event-ID": event.id})
        try:
            snapshot = again.next()
            assert [a["kind"] for a in snapshot.data["alarms"]] == ["tamper"]
        finally:
            again.close()
    finally:
        reader.close()


def test_the_server_stops_within_seconds_with_a_stream_open(live: Live) -> None:
    reader = live.stream()
    assert reader.next().event == "snapshot"
    started = time.monotonic()
    live.runtime.stop()
    stopped = time.monotonic() - started
    assert reader.ended.wait(10), "the stream did not end when the server stopped"
    reader.close()
    assert stopped < 8, stopped
