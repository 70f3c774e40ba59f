"""The gateway in-process against an emulated controller on a real pseudo-terminal and a real
broker; the test plays the server's part of the MQTT contract (tests/hut_gateway/rig.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Feedback, Unlock
from hut_gateway.gateway import TEXT_NO_SESSION, TEXT_UNKNOWN_CARD, Gateway
from hut_gateway.settings import GatewaySettings
from tests.hut_gateway.rig import CARD, HUT, allowlist, bench, no_broker_settings
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import (
    MAX_WIRE_INT,
    Beep,
    CardEvent,
    EventAck,
    Outcome,
    ScanEvent,
    Topics,
)
from toolhut.contract import Feedback as WireFeedback
from toolhut_cli.embedded_broker import free_port


def test_known_card_opens_the_door_with_no_broker_at_all(tmp_path: Path, topic_prefix: str) -> None:
    keys = TestKeys(tmp_path)
    emulator = ControllerEmulator(output=lambda line: None)
    emulator.start()
    settings = no_broker_settings(tmp_path, keys, emulator, topic_prefix)
    gateway = Gateway(settings)
    # kept on disk from an earlier day
    gateway.allowlist.offer(allowlist(keys.key(HUT), CARD).sealed(keys.key(HUT)))
    gateway.start()
    try:
        emulator.command(f"card {CARD}")
        poll_until(lambda: any(isinstance(f, Unlock) for f in emulator.received), what="unlock")
        assert [f.pulse_ms for f in emulator.received if isinstance(f, Unlock)] == [1500]
        emulator.command("door open")
        emulator.command("scan T0001")
        emulator.command("door close")
        # Nothing reached a server, and nothing is lost: all of it waits in the outbox.
        poll_until(lambda: gateway.outbox.depth() >= 4, what="events in the outbox")
        assert not gateway.uplink.connected
    finally:
        gateway.stop()
        emulator.stop()


def test_a_card_is_let_in_while_the_status_waits_for_the_outbox(
    tmp_path: Path, topic_prefix: str
) -> None:
    # Counting the outbox waits for the recorder's commit (a sync, slow on an SD card). The
    # status is built now and then while that happens; the next card must not wait behind it.
    keys = TestKeys(tmp_path)
    emulator = ControllerEmulator(output=lambda line: None)
    emulator.start()
    settings = GatewaySettings(
        hut=HUT, serial=emulator.device_path, topic_prefix=topic_prefix,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}", data_dir=tmp_path / "gw",
        credentials_file=keys.credentials_file(HUT),
    )  # fmt: skip
    gateway = Gateway(settings)
    gateway.allowlist.offer(allowlist(keys.key(HUT), CARD).sealed(keys.key(HUT)))
    gateway.start()
    counting, synced = threading.Event(), threading.Event()
    count = gateway.outbox.depth

    def depth_behind_a_slow_sync() -> int:
        counting.set()
        synced.wait(60)
        return count()

    gateway.outbox.depth = depth_behind_a_slow_sync  # type: ignore[method-assign]
    status = threading.Thread(target=gateway.status)
    status.start()
    try:
        assert counting.wait(5)
        emulator.command(f"card {CARD}")
        poll_until(lambda: any(isinstance(f, Unlock) for f in emulator.received),
                   what="the unlock while the outbox is being counted")  # fmt: skip
    finally:
        synced.set()
        status.join()
        gateway.stop()
        emulator.stop()


def test_events_go_out_in_order_and_acks_clear_the_outbox_and_bring_feedback(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command(f"card {CARD}")
        card = hut.server.wait_event(lambda e: isinstance(e, CardEvent), what="card event")
        assert card.decision == "unlocked" and card.card == CARD and card.session
        hut.emulator.command("scan 电钻 T0001")
        scan = hut.server.wait_event(lambda e: isinstance(e, ScanEvent), what="scan event")
        assert (scan.text, scan.card, scan.session) == ("电钻 T0001", CARD, card.session)
        assert scan.seq > card.seq

        feedback = WireFeedback(beep=Beep.OK, text="已借出 电钻")
        hut.server.ack(
            EventAck(id=card.id, seq=card.seq, outcome=Outcome.APPLIED),
            EventAck(id=scan.id, seq=scan.seq, outcome=Outcome.APPLIED, feedback=feedback),
        )
        hut.wait_received(Feedback, what="server feedback at the controller")
        poll_until(
            lambda: any(f.text == "已借出 电钻" for f in hut.received(Feedback)),
            what="the server's text on the display",
        )
        # The feedback goes out first, the outbox's delete after it, on the same thread.
        poll_until(
            lambda: not {card.id, scan.id} & {p.id for p in hut.gateway.outbox.pending()},
            what="the acked events out of the outbox",
        )


def test_a_scan_the_server_holds_back_shows_its_feedback_when_it_is_applied(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command(f"card {CARD}")
        hut.server.wait_event(lambda e: isinstance(e, CardEvent), what="card event")
        hut.emulator.command("scan T0001")
        scan = hut.server.wait_event(lambda e: isinstance(e, ScanEvent), what="scan event")

        def ack(outcome: Outcome, feedback: WireFeedback | None = None) -> None:
            hut.server.ack(EventAck(id=scan.id, seq=scan.seq, outcome=outcome, feedback=feedback))

        ack(Outcome.QUEUED)  # an earlier event of the hut has not reached the server yet
        poll_until(
            lambda: scan.id not in {p.id for p in hut.gateway.outbox.pending()},
            what="the held event out of the outbox",
        )
        ack(Outcome.APPLIED, WireFeedback(beep=Beep.OK, text="已借出 电钻"))  # the gap filled
        poll_until(
            lambda: any(f.text == "已借出 电钻" for f in hut.received(Feedback)),
            what="the held scan's feedback on the display",
        )


def test_unknown_card_and_scan_without_a_session_are_refused_at_the_hut_and_recorded(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command("card DEADBEEF")
        denied = hut.server.wait_event(lambda e: isinstance(e, CardEvent), what="card event")
        assert denied.decision == "denied"
        hut.emulator.command("scan T0002")
        scan = hut.server.wait_event(lambda e: isinstance(e, ScanEvent), what="scan event")
        assert scan.session is None and scan.card is None
        poll_until(
            lambda: (
                {f.text for f in hut.received(Feedback)} >= {TEXT_UNKNOWN_CARD, TEXT_NO_SESSION}
            ),
            what="error feedback",
        )
        assert hut.received(Unlock) == []


def test_garbage_on_every_topic_the_gateway_hears_is_refused_and_counted(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command("door open")
        hut.server.wait_event(lambda e: e.type == "door", what="door event")
        hut.server.publish(topics.ack(HUT), b"{not json")
        hut.server.publish(topics.cmd(HUT), b'{"v":1}')
        hut.server.publish(topics.allowlist(HUT), b"\xff\xfe")
        hut.server.command("unlock", expired=True)
        # The attack of issue 10: a list with a huge version naming the attacker's card,
        # unsealed, or sealed with a key of the attacker's own.
        huge = allowlist(hut.server.key, "DEADBEEF", version=MAX_WIRE_INT)
        hut.server.publish(topics.allowlist(HUT), huge.to_bytes())
        hut.server.publish(topics.allowlist(HUT), huge.sealed(TestKeys(tmp_path / "x").key(HUT)))
        poll_until(lambda: hut.gateway.uplink.rejected_messages >= 6, what="rejections counted")
        assert hut.received(Unlock) == []
        assert hut.gateway.allowlist.version == 1  # the last good allowlist is kept
        assert not hut.gateway.allowlist.admits("DEADBEEF")
        hut.server.allowlist(allowlist(hut.server.key, CARD, version=2))  # the server's next
        poll_until(lambda: hut.gateway.allowlist.version == 2, what="the server's list taken")
        assert hut.gateway.outbox.depth() >= 1  # nothing was acked, nothing was dropped

        # A fresh unlock command from the server still works afterwards.
        hut.server.command("unlock")
        hut.wait_received(Unlock, what="commanded unlock")
