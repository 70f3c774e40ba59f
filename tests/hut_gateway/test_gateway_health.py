"""Door and controller health through the whole gateway: real pty, real broker, the
gateway's clock moved by the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware_bridge.frames import Feedback, Unlock
from hut_gateway.gateway import TEXT_CLOSE_DOOR
from hut_gateway.health import HealthLimits
from tests.hut_gateway.rig import CARD, bench
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import AlarmEvent, ControllerEvent


def alarm(kind: str, active: bool, source: str = "controller") -> Callable[[object], bool]:
    def match(event: object) -> bool:
        return isinstance(event, AlarmEvent) and (event.kind, event.active, event.source) == (
            kind,
            active,
            source,
        )

    return match


def controller(state: str) -> Callable[[object], bool]:
    return lambda event: isinstance(event, ControllerEvent) and event.state == state


def test_forced_and_held_open_from_the_controller_are_events_and_status(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command("door open")  # nobody tapped a card: the lock is engaged
        forced = hut.server.wait_event(alarm("forced_open", True), what="forced-open raised")
        hut.server.wait_status(lambda s: s.alarms == ["forced_open"] and s.door == "open",
                               what="forced_open and the door open")  # fmt: skip
        hut.emulator_clock.advance(60)
        held = hut.server.wait_event(alarm("held_open", True), what="held-open raised")
        assert held.seq > forced.seq
        hut.server.wait_status(lambda s: s.alarms == ["forced_open", "held_open"],
                               what="both alarms")  # fmt: skip

        hut.emulator.command("door close")
        hut.server.wait_event(alarm("forced_open", False), what="forced-open cleared")
        hut.server.wait_event(alarm("held_open", False), what="held-open cleared")
        hut.server.wait_status(lambda s: s.alarms == [] and s.door == "closed",
                               what="no alarms, door closed")  # fmt: skip
        assert hut.gateway.health.alarms == []


def test_the_gateway_raises_held_open_itself_when_the_controller_does_not(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    limits = HealthLimits(held_open_s=45, controller_silent_s=10_000)
    with bench(tmp_path, broker, topic_prefix, limits=limits, held_open_s=None) as hut:
        hut.emulator.command(f"card {CARD}")
        hut.wait_received(Unlock)
        hut.emulator.command("door open")
        hut.server.wait_status(lambda s: s.door == "open", what="the door open")
        hut.clock.advance(44)
        hut.settle()
        assert hut.gateway.health.alarms == []

        hut.clock.advance(1)
        hut.server.wait_event(alarm("held_open", True, "gateway"), what="backstop held-open")
        hut.server.wait_status(lambda s: s.alarms == ["held_open"], what="held_open")
        poll_until(lambda: any(f.text == TEXT_CLOSE_DOOR for f in hut.received(Feedback)),
                   what="close-the-door feedback")  # fmt: skip
        hut.clock.advance(100)
        hut.emulator.command("door close")
        hut.server.wait_event(alarm("held_open", False, "gateway"), what="backstop cleared")
        hut.server.wait_status(lambda s: s.alarms == [], what="no alarms")
        raised = [e for e in hut.server.events() if e.type == "alarm" and e.active]
        assert len(raised) == 1  # once, not once per tick


def test_tamper_is_an_alarm_until_cleared(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command("tamper")
        hut.server.wait_event(alarm("tamper", True), what="tamper raised")
        hut.server.wait_status(lambda s: s.alarms == ["tamper"], what="tamper")
        hut.emulator.command("tamper clear")
        hut.server.wait_event(alarm("tamper", False), what="tamper cleared")
        hut.server.wait_status(lambda s: s.alarms == [], what="no alarms")


def test_a_silent_controller_is_reported_and_so_is_its_return(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix, limits=HealthLimits(controller_silent_s=6)) as hut:
        hut.server.wait_status(lambda s: s.controller == "ok", what="controller ok")
        hut.emulator.command("silent")
        hut.clock.advance(5.9)
        hut.settle()
        assert hut.gateway.health.controller == "ok"
        hut.clock.advance(0.2)
        hut.server.wait_event(controller("silent"), what="ControllerEvent silent")
        hut.server.wait_status(lambda s: s.controller == "silent", what="controller silent")

        hut.emulator.command("resume")  # its first heartbeat goes out at once
        hut.server.wait_event(controller("ok"), what="ControllerEvent ok")
        hut.server.wait_status(lambda s: s.controller == "ok", what="controller ok again")


def test_unplugged_serial_device_is_absent_then_reopened_with_backoff(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    limits = HealthLimits(reopen_first_s=1, reopen_max_s=4, controller_silent_s=10_000)
    with bench(tmp_path, broker, topic_prefix, limits=limits) as hut:
        gateway = hut.gateway
        hut.emulator.command("unplug")
        absent = hut.server.wait_event(controller("absent"), what="ControllerEvent absent")
        hut.server.wait_status(lambda s: s.controller == "absent" and s.firmware is None,
                               what="controller absent")  # fmt: skip
        # While the device is gone a door command goes nowhere, and events are still kept.
        hut.server.command("unlock")
        assert absent.id in {p.id for p in gateway.outbox.pending()}  # kept until acked

        # Tries that fail (nothing at the link path) wait longer each time, up to the max.
        for delay in (2, 4, 4):
            hut.clock.advance(gateway.health.reopen_delay)
            hut.settle()
            assert gateway.health.reopen_delay == delay
            assert gateway.health.controller == "absent"

        hut.emulator.command("replug")
        assert f"emulator: device {hut.emulator.device_path}" in hut.lines
        hut.clock.advance(3.9)
        hut.settle()
        assert not gateway.health.port_open  # still waiting out the backoff
        hut.clock.advance(0.1)
        hello = hut.server.wait_event(
            lambda e: controller("hello")(e) and e.seq > absent.seq, what="hello after replug"
        )
        assert hello.firmware == "emu-1.0.0"
        status = hut.server.wait_status(lambda s: s.controller == "ok", what="controller ok")
        assert status.counters is not None and status.counters.reopens == 1

        unlocks = len(hut.received(Unlock))
        hut.emulator.command(f"card {CARD}")
        hut.wait_received(Unlock, unlocks + 1, what="an unlock after the replug")
        hut.server.wait_event(lambda e: e.type == "card" and e.seq > hello.seq,
                              what="the card event after the replug")  # fmt: skip
