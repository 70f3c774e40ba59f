"""A hut on the bench for the gateway tests: an emulated controller on a real pty behind a
``--link`` style symlink, the gateway on a movable clock, and a real MQTT client standing
where the server would, watching events and the retained status."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from firmware_bridge.emulator import ControllerEmulator
from hut_gateway.gateway import Gateway
from hut_gateway.health import HealthLimits
from hut_gateway.settings import GatewaySettings
from tests.firmware_bridge.helpers import ManualClock
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import (
    AckBatch,
    Allowlist,
    AnyEvent,
    Command,
    CommandAction,
    EventAck,
    Feedback,
    Status,
    Topics,
    new_id,
    parse_event,
    parse_status,
    utc_now,
)
from toolhut.hut_keys import HutKey
from toolhut.mqtt import make_client
from toolhut.opening_hours import OpeningHours
from toolhut_cli.embedded_broker import free_port

HUT = "gw-health"
CARD = "04A1B2C3"
SALT = "salt-for-tests"


class ServerSide:
    """Real MQTT client with the hut's key: records every event (once per id) and the
    latest status, and seals what it sends as the server does."""

    def __init__(self, broker: Broker, topics: Topics, key: HutKey) -> None:
        self.topics = topics
        self.key = key
        self._lock = threading.Lock()
        self._events: dict[str, AnyEvent] = {}
        self.status: Status | None = None
        self.statuses: list[Status] = []  # every status message, in arrival order
        subscribed = threading.Event()
        self.client = make_client(broker.endpoint, client_id=f"server-side-{topics.prefix}")

        def on_connect(client: Any, *_: Any) -> None:
            client.subscribe([(topics.events(HUT), 1), (topics.status(HUT), 1)])

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.endpoint.host, broker.endpoint.port)
        self.client.loop_start()
        assert subscribed.wait(5)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            if message.topic == self.topics.status(HUT):
                if message.payload:
                    self.status = parse_status(message.payload, key=self.key)
                    self.statuses.append(self.status)
            else:
                event = parse_event(message.payload, key=self.key)
                self._events[event.id] = event

    def events(self) -> list[AnyEvent]:
        with self._lock:
            return sorted(self._events.values(), key=lambda e: e.seq)

    def wait_event(self, match: Callable[[Any], bool], *, what: str) -> Any:
        def found() -> Any:
            return next((e for e in self.events() if match(e)), None)

        return poll_until(found, what=what)

    def wait_status(self, match: Callable[[Status], bool], *, what: str) -> Status:
        return poll_until(lambda: self.status if self.status and match(self.status) else None,
                          what=f"status with {what}")  # fmt: skip

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def command(
        self, action: CommandAction, *, expired: bool = False,
        feedback: Feedback | None = None, retain: bool = False, key: HutKey | None = None,
    ) -> bytes:  # fmt: skip
        """Publish a command sealed with the hut's key (or ``key``, for that key's hut) on
        the hut's topic; returns its payload (to replay it)."""
        now = utc_now()
        issued = now - timedelta(hours=1) if expired else now
        key = key or self.key
        payload = Command(
            id=new_id(), hut=key.hut, issued=issued, expires=issued + timedelta(minutes=1),
            action=action, feedback=feedback,
        ).sealed(key)  # fmt: skip
        self.publish(self.topics.cmd(HUT), payload, retain=retain)
        return payload

    def allowlist(self, allowlist: Allowlist, *, retain: bool = True) -> None:
        self.publish(self.topics.allowlist(HUT), allowlist.sealed(self.key), retain=retain)

    def ack(self, *acks: EventAck) -> None:
        self.publish(self.topics.ack(HUT), AckBatch(hut=HUT, acks=list(acks)).sealed(self.key))

    def stop(self) -> None:
        self.publish(self.topics.allowlist(HUT), b"", retain=True)
        self.publish(self.topics.status(HUT), b"", retain=True)
        self.publish(self.topics.cmd(HUT), b"", retain=True)
        self.client.disconnect()
        self.client.loop_stop()


def allowlist(
    key: HutKey, *cards: str, version: int = 1, suspended: tuple[str, ...] = (),
    lost: tuple[str, ...] = (), elsewhere: tuple[str, ...] = (),
    hours: OpeningHours | None = None, anytime: tuple[str, ...] = (),
) -> Allowlist:  # fmt: skip
    return Allowlist(
        hut=key.hut, version=version, issued=utc_now(), salt=SALT,
        cards=[key.card_hash(SALT, c) for c in cards],
        suspended=[key.card_hash(SALT, c) for c in suspended],
        lost=[key.card_hash(SALT, c) for c in lost],
        elsewhere=[key.card_hash(SALT, c) for c in elsewhere],
        hours=hours, anytime=[key.card_hash(SALT, c) for c in anytime],
    )  # fmt: skip


def no_broker_settings(
    tmp_path: Path, keys: TestKeys, emulator: ControllerEmulator, prefix: str
) -> GatewaySettings:
    """A gateway on ``emulator``'s pty whose broker does not answer: the hut offline."""
    return GatewaySettings(
        hut=HUT, serial=emulator.device_path, topic_prefix=prefix,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # nobody listens there
        data_dir=tmp_path / "gw", unlock_pulse_ms=1500,
        credentials_file=keys.credentials_file(HUT),
    )  # fmt: skip


class WallClock:
    """The gateway's wall clock (UTC): the real one until a test sets it, then only where
    the test puts it (the opening hours are decided by it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: datetime | None = None

    def __call__(self) -> datetime:
        with self._lock:
            return utc_now() if self._at is None else self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at


class Hut:
    def __init__(
        self, *, emulator: ControllerEmulator, lines: list[str], emulator_clock: ManualClock,
        gateway: Gateway, clock: ManualClock, wall: WallClock, server: ServerSide,
        keys: TestKeys,
    ) -> None:  # fmt: skip
        self.keys = keys
        self.wall = wall
        self.emulator = emulator
        self.lines = lines
        self.emulator_clock = emulator_clock
        self.gateway = gateway
        self.clock = clock
        self.server = server

    def settle(self) -> None:
        """Wait until the gateway's supervisor has looked at the clock twice more."""
        start = self.gateway.ticks
        poll_until(lambda: self.gateway.ticks >= start + 2, what="two supervisor ticks")

    def received(self, kind: type) -> list[Any]:
        return [f for f in list(self.emulator.received) if isinstance(f, kind)]

    def wait_received(self, kind: type, count: int = 1, *, what: str = "") -> list[Any]:
        return poll_until(lambda: len(self.received(kind)) >= count and self.received(kind),
                          what=what or f"{count} {kind.__name__} at the controller")  # fmt: skip


@contextmanager
def bench(
    tmp_path: Path, broker: Broker, prefix: str, *, limits: HealthLimits | None = None,
    held_open_s: float | None = 60.0, **more: Any,
) -> Iterator[Hut]:  # fmt: skip
    """``more``: more GatewaySettings fields (e.g. homeassistant=True)."""
    topics = Topics(prefix)
    keys = TestKeys(tmp_path / "keys")
    server = ServerSide(broker, topics, keys.key(HUT))
    server.allowlist(allowlist(server.key, CARD))
    lines: list[str] = []
    emulator_clock = ManualClock()
    emulator = ControllerEmulator(
        output=lines.append, clock=emulator_clock, heartbeat_s=2.0, held_open_s=held_open_s,
        link_path=tmp_path / "ttyHUT",
    )  # fmt: skip
    emulator.start()
    clock = ManualClock()
    settings = GatewaySettings(
        hut=HUT, serial=str(tmp_path / "ttyHUT"), mqtt_url=broker.url, topic_prefix=prefix,
        data_dir=tmp_path / "gw", unlock_pulse_ms=1500,
        credentials_file=keys.credentials_file(HUT), **more,
    )  # fmt: skip
    wall = WallClock()
    gateway = Gateway(settings, clock=wall, monotonic=clock, limits=limits, tick_s=0.02)
    gateway.start()
    hut = Hut(emulator=emulator, lines=lines, emulator_clock=emulator_clock, gateway=gateway,
              clock=clock, wall=wall, server=server, keys=keys)  # fmt: skip
    try:
        poll_until(lambda: gateway.allowlist.version == 1, what="the retained allowlist")
        server.wait_event(lambda e: e.type == "controller" and e.state == "hello",
                          what="the controller's hello")  # fmt: skip
        yield hut
    finally:
        gateway.stop()
        emulator.stop()
        server.stop()
