"""Opening hours and the huts a member may open, decided by the gateway alone from its list
(the server never answers here; in the last test there is no broker at all): real pty,
emulated controller, the gateway's wall clock moved by the test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Beep, Feedback, Unlock
from hut_gateway.allowlist import AllowlistStore
from hut_gateway.gateway import (
    TEXT_CLOSED_TODAY,
    TEXT_ELSEWHERE,
    TEXT_WELCOME,
    Gateway,
    closed_text,
)
from tests.hut_gateway.rig import (
    CARD,
    HUT,
    Hut,
    WallClock,
    allowlist,
    bench,
    no_broker_settings,
)
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import MAX_DISPLAY_BYTES, CardDecision, CardEvent, DenialReason
from toolhut.opening_hours import OpeningHours

STAFF_CARD = "0A0A0A0A"
OTHER_HUTS_CARD = "0C0C0C0C"
HOURS = OpeningHours(
    tz="Asia/Shanghai",
    week={"mon": [["08:00", "12:00"], ["14:00", "20:00"]], "tue": [["08:00", "20:00"]]},
)
# Monday 30 November 2026 in Shanghai (UTC+8).
MONDAY_LUNCH = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)  # 12:30 local: closed
MONDAY_AFTERNOON = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 14:00 local: open again
SUNDAY = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 local: closed all day
TODAY_SHOWN = "非开放时间 今日08:00-12:00 14:00-20:00 / Closed"


def _tap(hut: Hut, card: str) -> tuple[Feedback, CardEvent]:
    """Tap ``card``; what the display showed for it and the event the gateway sent."""
    shown = len(hut.received(Feedback))
    seen = {e.id for e in hut.server.events()}
    hut.emulator.command(f"card {card}")
    feedback = hut.wait_received(Feedback, shown + 1, what=f"feedback for {card}")[shown]
    event = hut.server.wait_event(
        lambda e: isinstance(e, CardEvent) and e.card == card and e.id not in seen,
        what=f"the card event of {card}",
    )
    return feedback, event


def test_outside_the_hours_only_anytime_cards_open_and_the_hut_says_when_it_opens(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.server.allowlist(
            allowlist(
                hut.server.key,
                CARD,
                STAFF_CARD,
                elsewhere=(OTHER_HUTS_CARD,),
                hours=HOURS,
                anytime=(STAFF_CARD,),
                version=2,
            )  # fmt: skip
        )
        poll_until(lambda: hut.gateway.allowlist.version == 2, what="the list with hours")
        hut.wall.set(MONDAY_LUNCH)

        feedback, event = _tap(hut, CARD)
        assert (feedback.text, feedback.beep) == (TODAY_SHOWN, Beep.ERROR)
        assert (event.decision, event.reason) == (CardDecision.DENIED, DenialReason.CLOSED)
        assert event.session is None
        feedback, event = _tap(hut, OTHER_HUTS_CARD)  # its member may open other huts only
        assert (feedback.text, feedback.beep) == (TEXT_ELSEWHERE, Beep.ERROR)
        assert (event.decision, event.reason) == (CardDecision.DENIED, DenialReason.ELSEWHERE)
        assert hut.received(Unlock) == []

        feedback, event = _tap(hut, STAFF_CARD)  # staff: stocktakes and repairs at any hour
        assert (feedback.text, event.decision, event.reason) == (
            TEXT_WELCOME, CardDecision.UNLOCKED, None
        )  # fmt: skip
        hut.wait_received(Unlock, 1, what="the staff card's unlock")

        hut.wall.set(MONDAY_AFTERNOON)  # the second window has begun
        feedback, event = _tap(hut, CARD)
        assert (feedback.text, event.decision) == (TEXT_WELCOME, CardDecision.UNLOCKED)
        hut.wait_received(Unlock, 2, what="the member's unlock in the hours")
        feedback, event = _tap(hut, OTHER_HUTS_CARD)  # open or not, never this hut
        assert (feedback.text, event.reason) == (TEXT_ELSEWHERE, DenialReason.ELSEWHERE)

        hut.wall.set(SUNDAY)
        feedback, event = _tap(hut, CARD)
        assert (feedback.text, event.reason) == (TEXT_CLOSED_TODAY, DenialReason.CLOSED)
        assert len(hut.received(Unlock)) == 2


def test_a_list_without_hours_opens_at_any_time(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:  # the bench's list has no hours
        hut.wall.set(SUNDAY)
        feedback, event = _tap(hut, CARD)
        assert (feedback.text, event.decision) == (TEXT_WELCOME, CardDecision.UNLOCKED)
        hut.wait_received(Unlock)


def test_the_closed_text_fits_the_display_however_many_windows() -> None:
    assert closed_text(["08:00-12:00", "14:00-20:00"]) == TODAY_SHOWN
    assert closed_text([]) == TEXT_CLOSED_TODAY
    four = ["06:00-08:00", "09:00-11:00", "13:00-15:00", "16:00-24:00"]
    shown = closed_text(four)
    assert len(shown.encode()) <= MAX_DISPLAY_BYTES
    assert shown.startswith("非开放时间 今日06:00-08:00 09:00-11:00")
    assert closed_text(four[:1]).endswith(" / Closed")


def test_hours_and_anytime_hold_with_no_broker_at_all(tmp_path: Path, topic_prefix: str) -> None:
    keys = TestKeys(tmp_path)
    key = keys.key(HUT)
    emulator = ControllerEmulator(output=lambda line: None)
    emulator.start()
    settings = no_broker_settings(tmp_path, keys, emulator, topic_prefix)
    wall = WallClock()
    wall.set(MONDAY_LUNCH)
    stored = allowlist(key, CARD, STAFF_CARD, hours=HOURS, anytime=(STAFF_CARD,))
    # Kept on disk from an earlier day.
    AllowlistStore(settings.allowlist_path, key=key).offer(stored.sealed(key))
    gateway = Gateway(settings, clock=wall)
    gateway.start()
    try:

        def shown() -> list[str]:
            return [f.text for f in emulator.received if isinstance(f, Feedback)]

        emulator.command(f"card {CARD}")
        poll_until(lambda: len(shown()) == 1, what="the closed text")
        emulator.command(f"card {STAFF_CARD}")
        poll_until(lambda: any(isinstance(f, Unlock) for f in emulator.received), what="unlock")
        assert shown() == [TODAY_SHOWN, TEXT_WELCOME]
        assert len([f for f in emulator.received if isinstance(f, Unlock)]) == 1
        poll_until(lambda: gateway.outbox.depth() >= 2, what="both taps in the outbox")
        assert not gateway.uplink.connected
    finally:
        gateway.stop()
        emulator.stop()
