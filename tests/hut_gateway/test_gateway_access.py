"""Enrol mode and bad input through the whole gateway: real pty, real broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from firmware_bridge.codec import HEADER, VERSION, cobs_encode, crc16
from firmware_bridge.frames import MAX_DISPLAY_TEXT, Beep, Feedback, FrameType, Unlock
from hut_gateway import gateway as gateway_module
from hut_gateway.gateway import (
    TEXT_CARD_LOST,
    TEXT_ENROL_READY,
    TEXT_ENROLLED,
    TEXT_SUSPENDED,
    TEXT_UNKNOWN_CARD,
    TEXT_WELCOME,
)
from hut_gateway.health import HealthLimits
from tests.hut_gateway.rig import CARD, HUT, allowlist, bench
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import Beep as WireBeep
from toolhut.contract import (
    CardDecision,
    CardEvent,
    DenialReason,
    EventAck,
    Outcome,
    ScanEvent,
)
from toolhut.contract import Feedback as WireFeedback

NEW_CARD = "04D5E6F7A1B2C3"


def raw_frame(type_code: int, seq: int, payload: bytes) -> bytes:
    """A frame with a correct CRC that the encoder would refuse to make."""
    raw = HEADER.pack(VERSION, type_code, seq, len(payload)) + payload
    return b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00"


def card_event(card: str, decision: str, after: int = 0) -> Callable[[object], bool]:
    return lambda e: (
        isinstance(e, CardEvent) and e.card == card and e.decision == decision and e.seq > after
    )


def test_enrol_reports_the_next_card_without_unlocking_then_back_to_normal(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.server.command("enrol")
        poll_until(lambda: any(f.text == TEXT_ENROL_READY for f in hut.received(Feedback)),
                   what="the enrol prompt on the display")  # fmt: skip
        hut.emulator.command(f"card {NEW_CARD}")
        enrolled = hut.server.wait_event(card_event(NEW_CARD, "enrol"), what="enrol card event")
        assert enrolled.session is None
        poll_until(lambda: any(f.text == TEXT_ENROLLED for f in hut.received(Feedback)),
                   what="card-read feedback")  # fmt: skip
        assert hut.received(Unlock) == []

        # The next card is an ordinary tap again: an unknown one is denied, a known one opens.
        hut.emulator.command(f"card {NEW_CARD}")
        hut.server.wait_event(card_event(NEW_CARD, "denied", enrolled.seq), what="denied")
        hut.emulator.command(f"card {CARD}")
        hut.server.wait_event(card_event(CARD, "unlocked", enrolled.seq), what="unlocked")
        hut.wait_received(Unlock)
        hut.server.wait_status(lambda s: s.lock == "unlocked", what="the lock released")
        hut.clock.advance(1.5)  # the bench's unlock pulse
        hut.server.wait_status(lambda s: s.lock == "locked", what="the lock engaged again")


def test_enrol_mode_times_out_and_an_expired_enrol_command_is_ignored(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    limits = HealthLimits(enrol_s=60, controller_silent_s=10_000)
    with bench(tmp_path, broker, topic_prefix, limits=limits) as hut:
        hut.server.command("enrol", expired=True)
        poll_until(lambda: hut.gateway.uplink.rejected_messages == 1, what="rejected command")
        hut.emulator.command(f"card {CARD}")
        first = hut.server.wait_event(card_event(CARD, "unlocked"), what="an ordinary unlock")
        hut.wait_received(Unlock)

        hut.server.command("enrol", feedback=WireFeedback(beep=WireBeep.NONE, text="登记新卡"))
        poll_until(lambda: any(f.text == "登记新卡" for f in hut.received(Feedback)),
                   what="the command's own prompt")  # fmt: skip
        hut.clock.advance(60)
        hut.settle()
        hut.emulator.command(f"card {CARD}")
        hut.server.wait_event(card_event(CARD, "unlocked", first.seq), what="unlock after expiry")
        hut.wait_received(Unlock, 2)
        assert not any(e.type == "card" and e.decision == "enrol" for e in hut.server.events())
        status = hut.gateway.status()
        assert status.counters is not None and status.counters.rejected_messages == 1


def test_garbage_and_unknown_frames_on_the_wire_are_counted_and_lose_nothing(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        before = hut.gateway.counters()
        hut.emulator.inject(b"\x00\xde\xad\xbe\xef\x00")  # 4 bytes of line noise
        hut.emulator.inject(raw_frame(0x7E, 900, b"future"))  # a type from newer firmware
        hut.emulator.inject(raw_frame(FrameType.CARD_READ, 901, b"\x01\x02"))  # UID too short
        hut.emulator.inject(b"\x00" + b"\x01" * 300 + b"\x00")  # over the maximum frame size
        hut.emulator.command("door open")
        hut.emulator.inject(b"\x00\x05\x01\x10\x00")  # a frame cut short: 3 bytes of COBS
        hut.emulator.command("door close")
        hut.emulator.command(f"card {CARD}")
        hut.server.wait_event(card_event(CARD, "unlocked"), what="the card still unlocks")
        hut.wait_received(Unlock)

        after = hut.gateway.counters()
        assert after.garbage_bytes == before.garbage_bytes + 4 + 3
        assert after.unknown_type == before.unknown_type + 1
        assert after.malformed == before.malformed + 1
        assert after.oversize == before.oversize + 1
        doors = [e for e in hut.server.events() if e.type == "door"]
        assert [d.state for d in doors] == ["open", "closed"]

        # A command for another hut on this hut's topic is refused and counted too.
        hut.server.command("unlock", key=hut.keys.key("another-hut"))
        poll_until(lambda: hut.gateway.counters().rejected_messages == 1, what="rejection")
        hut.emulator.command("door open")  # a status change publishes the counters
        status = hut.server.wait_status(
            lambda s: s.counters is not None and s.counters.rejected_messages == 1,
            what="counters in the published status",
        )
        assert status.hut == HUT and status.counters is not None
        assert status.counters.unknown_type == after.unknown_type
        assert len(hut.received(Unlock)) == 1


def test_a_scan_with_a_control_character_is_malformed_and_later_scans_still_work(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        before = hut.gateway.counters()
        hut.emulator.inject(raw_frame(FrameType.QR_SCAN, 910, b"T00\x0001"))
        hut.emulator.inject(raw_frame(FrameType.QR_SCAN, 911, "T\x851".encode()))
        poll_until(lambda: hut.gateway.counters().malformed == before.malformed + 2,
                   what="both scans counted malformed")  # fmt: skip
        hut.emulator.command("scan T0001")
        scan = hut.server.wait_event(lambda e: isinstance(e, ScanEvent), what="the next scan")
        assert scan.text == "T0001"
        assert [e.text for e in hut.server.events() if isinstance(e, ScanEvent)] == ["T0001"]


SUSPENDED_CARD = "04D5E6F7"
LOST_CARD = "0B0B0B0B"
UNKNOWN_CARD = "DEADBEEF"


def test_every_text_of_the_hut_fits_its_display() -> None:
    texts = {
        name: value for name, value in vars(gateway_module).items() if name.startswith("TEXT_")
    }
    assert len(texts) >= 10
    for name, text in texts.items():
        assert len(text.encode()) <= MAX_DISPLAY_TEXT, name
        Feedback(beep=Beep.ERROR, text=text)  # what the gateway sends: it must not raise


def test_suspended_lost_and_unknown_cards_are_told_apart_by_the_gateway_alone(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:

        def taps() -> list[CardEvent]:
            return [e for e in hut.server.events() if isinstance(e, CardEvent)]

        key = hut.server.key
        hut.server.allowlist(
            allowlist(key, CARD, suspended=(SUSPENDED_CARD,), lost=(LOST_CARD,), version=2)
        )
        poll_until(lambda: hut.gateway.allowlist.version == 2, what="the list with states")
        shown = []  # nobody answers on the server's side: the gateway decides from its list
        for card in (SUSPENDED_CARD, LOST_CARD, UNKNOWN_CARD):
            hut.emulator.command(f"card {card}")
            shown.append(hut.wait_received(Feedback, len(shown) + 1, what=card)[-1].text)
        assert shown == [TEXT_SUSPENDED, TEXT_CARD_LOST, TEXT_UNKNOWN_CARD]
        assert shown[0].startswith("账户已暂停") and "Account suspended" in shown[0]
        assert shown[1].startswith("此卡已挂失") and "Card reported lost" in shown[1]
        assert hut.received(Unlock) == []
        poll_until(lambda: len(taps()) == 3, what="the three card events")
        assert [(e.card, e.decision, e.reason) for e in taps()] == [
            (SUSPENDED_CARD, CardDecision.DENIED, DenialReason.SUSPENDED),
            (LOST_CARD, CardDecision.DENIED, DenialReason.LOST),
            (UNKNOWN_CARD, CardDecision.DENIED, None),  # as every gateway said before
        ]


def test_the_reminder_line_on_the_card_ack_is_shown_after_the_welcome(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command(f"card {CARD}")
        tap = hut.server.wait_event(card_event(CARD, "unlocked"), what="the tap")
        line = WireFeedback(beep=WireBeep.OK, text="请尽快归还电钻等2件")
        ack = EventAck(id=tap.id, seq=tap.seq, outcome=Outcome.APPLIED, feedback=line)
        hut.server.ack(ack)
        texts = [f.text for f in hut.wait_received(Feedback, 2, what="the reminder line")]
        assert texts == [TEXT_WELCOME, "请尽快归还电钻等2件"]


def test_a_replayed_command_opens_nothing(
    tmp_path: Path, broker: Broker, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        unlock = hut.server.command("unlock")
        hut.wait_received(Unlock, what="the server's unlock")
        # Someone captured it off the wire and publishes it again: well sealed, same id.
        hut.server.publish(hut.server.topics.cmd(HUT), unlock)
        poll_until(lambda: hut.gateway.counters().rejected_messages == 1, what="the replay refused")
        assert "replayed" in caplog.text
        hut.server.command("unlock")  # a new command of the server is obeyed
        hut.wait_received(Unlock, 2, what="the second unlock")
        hut.emulator.command("door open")  # a frame after both: nothing else came in between
        hut.server.wait_event(lambda e: e.type == "door", what="the door event")
        assert len(hut.received(Unlock)) == 2
        assert hut.gateway.counters().rejected_messages == 1
