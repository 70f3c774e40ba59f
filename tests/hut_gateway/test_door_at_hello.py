"""The door after a gateway (re)start: the controller reports the reed switch after its
hello, so the first status has the door without the door moving; and the gateway keeps the
door it knew, so a door that moved while it was away is a door event (real pty, real
broker)."""

from __future__ import annotations

from pathlib import Path

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import DoorChanged
from hut_gateway.gateway import Gateway
from hut_gateway.settings import GatewaySettings
from tests.hut_gateway.rig import HUT, ServerSide
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import DoorState, GatewayState, Status, Topics


def first_online_status(server: ServerSide, after: int) -> Status:
    """The first status a gateway published after the server side had seen ``after``."""

    def found() -> Status | None:
        return next((s for s in server.statuses[after:] if s.state is GatewayState.ONLINE), None)

    return poll_until(found, what="the gateway's first status")


def test_a_gateway_started_with_the_door_open_has_it_open_in_its_first_status(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    keys = TestKeys(tmp_path / "keys")
    server = ServerSide(broker, Topics(topic_prefix), keys.key(HUT))  # before any gateway
    lines: list[str] = []
    emulator = ControllerEmulator(
        output=lines.append, link_path=tmp_path / "ttyHUT", held_open_s=None
    )
    emulator.start()
    settings = GatewaySettings(
        hut=HUT, serial=str(tmp_path / "ttyHUT"), mqtt_url=broker.url, topic_prefix=topic_prefix,
        data_dir=tmp_path / "gw", credentials_file=keys.credentials_file(HUT),
    )  # fmt: skip
    try:
        # Opened while no gateway listens (and locked: forced open); those frames are lost.
        emulator.command("door open")
        assert emulator.link.flush(5)
        for start in ("first start", "restart"):
            seen = len(server.statuses)
            gateway = Gateway(settings)
            gateway.start()
            try:
                status = first_online_status(server, seen)
                assert (status.door, status.alarms, status.firmware) == (
                    "open",
                    ["forced_open"],
                    "emu-1.0.0",
                ), start
            finally:
                gateway.stop()
        # The door never moved: the reports are no door events, and the emulator sent one
        # door movement only, the one before any gateway was there.
        assert [e for e in server.events() if e.type == "door"] == []
        assert lines.count("sent door open") == 1
        assert lines.count("sent door state=open") >= 2
    finally:
        emulator.stop()
        server.stop()


def test_a_door_closed_while_the_gateway_was_away_is_a_door_event_after_its_restart(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    keys = TestKeys(tmp_path / "keys")
    server = ServerSide(broker, Topics(topic_prefix), keys.key(HUT))
    emulator = ControllerEmulator(output=[].append, link_path=tmp_path / "ttyHUT", held_open_s=None)
    emulator.start()
    settings = GatewaySettings(
        hut=HUT, serial=str(tmp_path / "ttyHUT"), mqtt_url=broker.url, topic_prefix=topic_prefix,
        data_dir=tmp_path / "gw", credentials_file=keys.credentials_file(HUT),
    )  # fmt: skip

    def doors() -> list[DoorState]:
        return [e.state for e in server.events() if e.type == "door"]

    try:
        gateway = Gateway(settings)
        gateway.start()
        try:
            first_online_status(server, 0)
            assert emulator.send(DoorChanged(open=True)).result(timeout=5)  # a movement
            poll_until(lambda: doors() == [DoorState.OPEN], what="the door-open event")
        finally:
            gateway.stop()
        # Shut while no gateway listens: the controller gives the frame up.
        emulator.command("door close")
        assert emulator.link.flush(5)
        seen = len(server.statuses)
        gateway = Gateway(settings)
        gateway.start()
        try:
            assert first_online_status(server, seen).door == "closed"
            # The report after the hello differs from the door the gateway kept: it moved.
            poll_until(
                lambda: doors() == [DoorState.OPEN, DoorState.CLOSED], what="the door-closed event"
            )
        finally:
            gateway.stop()
    finally:
        emulator.stop()
        server.stop()
