"""The gateway in-process against an emulated controller on a real pseudo-terminal and a real
broker; the test plays the server's part of the MQTT contract."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Feedback, Unlock
from hut_gateway.gateway import TEXT_NO_SESSION, TEXT_UNKNOWN_CARD, Gateway
from hut_gateway.settings import GatewaySettings
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import (
    AckBatch,
    Allowlist,
    Beep,
    CardEvent,
    Command,
    EventAck,
    Outcome,
    ScanEvent,
    Topics,
    hash_card,
    new_id,
    parse_event,
    utc_now,
)
from toolhut.contract import Feedback as WireFeedback
from toolhut.embedded_broker import free_port
from toolhut.mqtt import make_client

HUT = "gw-test"
CARD = "04A1B2C3"
SALT = "salt-for-tests"


def allowlist_payload(*cards: str, version: int = 1) -> bytes:
    return Allowlist(
        hut=HUT, version=version, issued=utc_now(), salt=SALT,
        cards=[hash_card(SALT, c) for c in cards],
    ).to_bytes()  # fmt: skip


class FakeServerSide:
    """A real MQTT client standing where the server would: it sees the gateway's events and
    answers on the ack, cmd and allowlist topics."""

    def __init__(self, broker: Broker, topics: Topics) -> None:
        self.topics = topics
        self.events: queue.Queue[Any] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = make_client(broker.endpoint, client_id=f"server-side-{topics.prefix}")
        self.client.on_connect = lambda c, *_: c.subscribe(topics.events(HUT), qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = lambda c, u, m: self.events.put(parse_event(m.payload))
        self.client.connect(broker.endpoint.host, broker.endpoint.port)
        self.client.loop_start()
        assert self._subscribed.wait(5)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def next_event(self, kind: type, timeout: float = 5.0) -> Any:
        while True:
            event = self.events.get(timeout=timeout)
            if isinstance(event, kind):
                return event

    def stop(self) -> None:
        self.publish(self.topics.allowlist(HUT), b"", retain=True)  # clear the retained one
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def emulator() -> Iterator[ControllerEmulator]:
    lines: list[str] = []
    emu = ControllerEmulator(output=lines.append, heartbeat_s=0.5)
    emu.start()
    emu.lines = lines  # type: ignore[attr-defined]
    yield emu
    emu.stop()


def make_gateway(
    tmp_path: Path, emulator: ControllerEmulator, mqtt_url: str, prefix: str
) -> Gateway:
    settings = GatewaySettings(
        hut=HUT, serial=emulator.device_path, mqtt_url=mqtt_url, topic_prefix=prefix,
        data_dir=tmp_path / "gw", unlock_pulse_ms=1500,
    )  # fmt: skip
    return Gateway(settings)


def received(emulator: ControllerEmulator, kind: type) -> list[Any]:
    return [f for f in emulator.received if isinstance(f, kind)]


def test_known_card_opens_the_door_with_no_broker_at_all(
    tmp_path: Path, emulator: ControllerEmulator, topic_prefix: str
) -> None:
    dead_broker = f"mqtt://127.0.0.1:{free_port()}"
    gateway = make_gateway(tmp_path, emulator, dead_broker, topic_prefix)
    gateway.allowlist.offer(allowlist_payload(CARD))  # kept on disk from an earlier day
    gateway.start()
    try:
        emulator.command(f"card {CARD}")
        poll_until(lambda: received(emulator, Unlock), what="unlock at the controller")
        assert received(emulator, Unlock)[0].pulse_ms == 1500
        emulator.command("door open")
        emulator.command("scan T0001")
        emulator.command("door close")
        # Nothing reached a server, and nothing is lost: all of it waits in the outbox.
        poll_until(lambda: gateway.outbox.depth() >= 5, what="events in the outbox")
        assert not gateway.uplink.connected
    finally:
        gateway.stop()


def test_events_go_out_in_order_and_acks_clear_the_outbox_and_bring_feedback(
    tmp_path: Path, emulator: ControllerEmulator, broker: Broker, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    server = FakeServerSide(broker, topics)
    server.publish(topics.allowlist(HUT), allowlist_payload(CARD), retain=True)
    gateway = make_gateway(tmp_path, emulator, broker.url, topic_prefix)
    gateway.start()
    try:
        poll_until(lambda: gateway.allowlist.version == 1, what="the retained allowlist")
        emulator.command(f"card {CARD}")
        card = server.next_event(CardEvent)
        assert card.decision == "unlocked" and card.card == CARD and card.session
        emulator.command("scan 电钻 T0001")
        scan = server.next_event(ScanEvent)
        assert (scan.text, scan.card, scan.session) == ("电钻 T0001", CARD, card.session)
        assert scan.seq > card.seq

        server.publish(
            topics.ack(HUT),
            AckBatch(
                hut=HUT,
                acks=[
                    EventAck(id=card.id, seq=card.seq, outcome=Outcome.APPLIED),
                    EventAck(
                        id=scan.id,
                        seq=scan.seq,
                        outcome=Outcome.APPLIED,
                        feedback=WireFeedback(beep=Beep.OK, text="已借出 电钻"),
                    ),  # fmt: skip
                ],
            ).to_bytes(),
        )
        poll_until(
            lambda: any(f.text == "已借出 电钻" for f in received(emulator, Feedback)),
            what="server feedback at the controller",
        )
        pending_ids = {p.id for p in gateway.outbox.pending()}
        assert card.id not in pending_ids and scan.id not in pending_ids
    finally:
        gateway.stop()
        server.stop()


def test_bad_input_from_the_wire_and_the_hut_is_refused_without_losing_anything(
    tmp_path: Path, emulator: ControllerEmulator, broker: Broker, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    server = FakeServerSide(broker, topics)
    server.publish(topics.allowlist(HUT), allowlist_payload(CARD), retain=True)
    gateway = make_gateway(tmp_path, emulator, broker.url, topic_prefix)
    gateway.start()
    try:
        poll_until(lambda: gateway.allowlist.version == 1, what="the retained allowlist")
        # Unknown card: error beep, no unlock, and the event is still recorded.
        emulator.command("card DEADBEEF")
        denied = server.next_event(CardEvent)
        assert denied.decision == "denied"
        # A scan with no open session: told to tap a card first, and recorded.
        emulator.command("scan T0002")
        assert server.next_event(ScanEvent).session is None
        poll_until(
            lambda: (
                {f.text for f in received(emulator, Feedback)}
                >= {TEXT_UNKNOWN_CARD, TEXT_NO_SESSION}
            ),
            what="error feedback",
        )
        assert received(emulator, Unlock) == []

        # Garbage on every topic the gateway listens to, a command for another hut, an
        # expired unlock and an older allowlist: all refused, none acted on.
        server.publish(topics.ack(HUT), b"{not json")
        server.publish(topics.cmd(HUT), b'{"v":1}')
        server.publish(topics.allowlist(HUT), b"\xff\xfe")
        now = utc_now()
        server.publish(
            topics.cmd(HUT),
            Command(id=new_id(), hut="other-hut", issued=now, expires=now + timedelta(minutes=1),
                    action="unlock").to_bytes(),
        )  # fmt: skip
        server.publish(
            topics.cmd(HUT),
            Command(id=new_id(), hut=HUT, issued=now - timedelta(hours=1),
                    expires=now - timedelta(minutes=59), action="unlock").to_bytes(),
        )  # fmt: skip
        poll_until(lambda: gateway.uplink.rejected_messages >= 4, what="rejections counted")
        assert received(emulator, Unlock) == []
        assert gateway.allowlist.version == 1

        # A fresh unlock command from the server still works afterwards.
        server.publish(
            topics.cmd(HUT),
            Command(id=new_id(), hut=HUT, issued=now, expires=now + timedelta(minutes=1),
                    action="unlock").to_bytes(),
        )  # fmt: skip
        poll_until(lambda: received(emulator, Unlock), what="commanded unlock")
        assert gateway.outbox.depth() >= 2  # nothing was acked, nothing was dropped
    finally:
        gateway.stop()
        server.stop()
