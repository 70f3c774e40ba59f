"""An Uplink on a real broker with a real outbox, a clock the test moves, and a real MQTT
client standing where the server would (it acks when told to)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from hut_gateway.outbox import Outbox, Pending
from hut_gateway.settings import GatewaySettings
from hut_gateway.uplink import Uplink
from tests.support.keys import TestKeys
from tests.support.services import Broker
from toolhut.contract import (
    AckBatch,
    AlarmKind,
    Command,
    DoorEvent,
    DoorState,
    EventAck,
    GatewayState,
    Outcome,
    Status,
    Topics,
    new_id,
    parse_event,
    utc_now,
)
from toolhut.hut_keys import HutKey
from toolhut.mqtt import make_client

HUT = "uplink-test"


class MovableClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def door_event(seq: int) -> DoorEvent:
    return DoorEvent(id=new_id(), hut=HUT, seq=seq, ts=utc_now(), state=DoorState.OPEN)


class ServerSide:
    """Sees every event publish, in arrival order; acks only what the test says."""

    def __init__(
        self, broker: Broker, topics: Topics, key: HutKey, *, also: str | None = None
    ) -> None:
        self.topics = topics
        self.key = key
        self.received: list[tuple[int, str]] = []  # (seq, id)
        self.other: list[Any] = []  # messages on ``also``
        self.auto_ack = False
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        filters = [(topics.events(HUT), 1)] + ([(also, 1)] if also else [])
        self.client = make_client(broker.endpoint, client_id=f"server-side-{topics.prefix}")
        self.client.on_connect = lambda c, *_: c.subscribe(filters)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.endpoint.host, broker.endpoint.port)
        self.client.loop_start()
        assert self._subscribed.wait(5)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if not message.topic.endswith("/events"):
            with self._lock:
                self.other.append(message)
            return
        event = parse_event(message.payload, key=self.key)
        with self._lock:
            self.received.append((event.seq, event.id))
        if self.auto_ack:
            self.ack([(event.seq, event.id)])

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def ack(self, events: list[tuple[int, str]]) -> None:
        batch = AckBatch(
            hut=HUT,
            acks=[EventAck(id=i, seq=s, outcome=Outcome.APPLIED) for s, i in events],
        )
        self.client.publish(self.topics.ack(HUT), batch.sealed(self.key), qos=1)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class UplinkRig:
    """What the gateway does around its uplink: outbox in, acks clear it."""

    def __init__(self, tmp_path: Path, broker: Broker, prefix: str, **settings: Any) -> None:
        self.clock = MovableClock()
        self.keys = TestKeys(tmp_path / "keys")
        self.key = self.keys.key(HUT)
        self.settings = GatewaySettings(
            hut=HUT, serial="/dev/null", mqtt_url=broker.url, topic_prefix=prefix,
            data_dir=tmp_path / "gw", credentials_file=self.keys.credentials_file(HUT),
            **settings,
        )  # fmt: skip
        self.outbox = Outbox(self.settings.outbox_path, key=self.key)
        self.commands: list[Command] = []
        self.uplink = Uplink(
            self.settings,
            credentials=self.settings.credentials(),
            outbox=self.outbox,
            on_ack=self._on_ack,
            on_command=self.commands.append,
            on_allowlist=lambda payload: None,
            status=self.status,
            monotonic=self.clock,
        )
        self.door = DoorState.OPEN
        self.alarms: list[AlarmKind] = []
        self.firmware: str | None = None  # the controller's, once it said hello

    def status(self) -> Status:
        return Status(
            hut=HUT, state=GatewayState.ONLINE, ts=utc_now(), door=self.door,
            controller="ok", outbox=self.outbox.depth(), alarms=self.alarms,
            firmware=self.firmware,
        )  # fmt: skip

    def _on_ack(self, batch: AckBatch) -> None:
        ids = [ack.id for ack in batch.acks]
        self.outbox.remove(ids)
        self.uplink.forget(ids)

    def record(self, n: int) -> list[Pending]:
        stored = []
        for _ in range(n):
            _, item = self.outbox.append(door_event)
            self.uplink.publish(item)
            stored.append(item)
        return stored

    def start(self) -> None:
        self.uplink.start()
        assert self.uplink.wait_connected(10)

    def stop(self) -> None:
        self.uplink.stop()
        self.outbox.close()
