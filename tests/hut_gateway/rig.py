"""A hut on the bench for the gateway tests: an emulated controller on a real pty behind a
``--link`` style symlink, the gateway on a movable clock, and a real MQTT client standing
where the server would, watching events and the retained status."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from firmware_bridge.emulator import ControllerEmulator
from hut_gateway.gateway import Gateway
from hut_gateway.health import HealthLimits
from hut_gateway.settings import GatewaySettings
from tests.firmware_bridge.helpers import ManualClock
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import (
    Allowlist,
    AnyEvent,
    Command,
    Feedback,
    Status,
    Topics,
    hash_card,
    new_id,
    parse_event,
    parse_status,
    utc_now,
)
from toolhut.mqtt import make_client

HUT = "gw-health"
CARD = "04A1B2C3"
SALT = "salt-for-tests"


class ServerSide:
    """Real MQTT client: records every event (once per id) and the latest status."""

    def __init__(self, broker: Broker, topics: Topics) -> None:
        self.topics = topics
        self._lock = threading.Lock()
        self._events: dict[str, AnyEvent] = {}
        self.status: Status | None = None
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
                    self.status = parse_status(message.payload)
            else:
                event = parse_event(message.payload)
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
        self, action: Literal["unlock", "feedback", "enrol"], *, expired: bool = False,
        hut: str = HUT, feedback: Feedback | None = None,
    ) -> None:  # fmt: skip
        now = utc_now()
        issued = now - timedelta(hours=1) if expired else now
        self.publish(
            self.topics.cmd(HUT),
            Command(id=new_id(), hut=hut, issued=issued, expires=issued + timedelta(minutes=1),
                    action=action, feedback=feedback).to_bytes(),
        )  # fmt: skip

    def stop(self) -> None:
        self.publish(self.topics.allowlist(HUT), b"", retain=True)
        self.publish(self.topics.status(HUT), b"", retain=True)
        self.client.disconnect()
        self.client.loop_stop()


def allowlist_payload(
    *cards: str, version: int = 1, suspended: tuple[str, ...] = (), lost: tuple[str, ...] = ()
) -> bytes:
    return Allowlist(
        hut=HUT, version=version, issued=utc_now(), salt=SALT,
        cards=[hash_card(SALT, c) for c in cards],
        suspended=[hash_card(SALT, c) for c in suspended],
        lost=[hash_card(SALT, c) for c in lost],
    ).to_bytes()  # fmt: skip


class Hut:
    def __init__(
        self, *, emulator: ControllerEmulator, lines: list[str], emulator_clock: ManualClock,
        gateway: Gateway, clock: ManualClock, server: ServerSide,
    ) -> None:  # fmt: skip
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
    held_open_s: float | None = 60.0,
) -> Iterator[Hut]:  # fmt: skip
    topics = Topics(prefix)
    server = ServerSide(broker, topics)
    server.publish(topics.allowlist(HUT), allowlist_payload(CARD), retain=True)
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
    )  # fmt: skip
    gateway = Gateway(settings, monotonic=clock, limits=limits, tick_s=0.02)
    gateway.start()
    hut = Hut(emulator=emulator, lines=lines, emulator_clock=emulator_clock, gateway=gateway,
              clock=clock, server=server)  # fmt: skip
    try:
        poll_until(lambda: gateway.allowlist.version == 1, what="the retained allowlist")
        server.wait_event(lambda e: e.type == "controller" and e.state == "hello",
                          what="the controller's hello")  # fmt: skip
        yield hut
    finally:
        gateway.stop()
        emulator.stop()
        server.stop()
