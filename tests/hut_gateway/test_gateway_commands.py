"""The gateway's report of each command of the server's, through the whole gateway (an
emulated controller on a real pty, a real broker): an unlock the controller took is done
and opens a session for the resident's scans; an expired one never reaches the controller
and is reported expired; with the controller absent it fails, saying so; a status command
publishes a fresh retained status; a replayed command is refused without a report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from firmware_bridge.frames import Feedback, Unlock
from hut_gateway.gateway import (
    DETAIL_CONTROLLER_ABSENT,
    TEXT_ENROL_READY,
    TEXT_NO_SESSION,
)
from tests.hut_gateway.rig import HUT, Hut, bench
from tests.support.processes import poll_until
from tests.support.services import Broker
from toolhut.contract import (
    CommandEvent,
    CommandOutcome,
    DoorEvent,
    ScanEvent,
    parse_command,
    utc_now,
)


def _sent(hut: Hut, payload: bytes) -> str:
    """The id of the command whose sealed payload the test published."""
    return parse_command(payload, key=hut.server.key).id


def _report(hut: Hut, command_id: str) -> CommandEvent:
    found: CommandEvent = hut.server.wait_event(
        lambda e: isinstance(e, CommandEvent) and e.command == command_id,
        what=f"the report of command {command_id}",
    )
    return found


def _reports(hut: Hut, command_id: str) -> list[CommandEvent]:
    events = hut.server.events()
    return [e for e in events if isinstance(e, CommandEvent) and e.command == command_id]


def _door_event_after(hut: Hut, seq: int) -> Any:
    """A frame after everything before it: nothing else came in between."""
    hut.emulator.command("door open")
    return hut.server.wait_event(
        lambda e: isinstance(e, DoorEvent) and e.seq > seq, what="the door event after"
    )


def test_a_remote_unlock_the_controller_took_is_done_and_its_visit_a_session(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        command_id = _sent(hut, hut.server.command("unlock"))
        hut.wait_received(Unlock, what="the remote unlock at the controller")
        report = _report(hut, command_id)
        assert (report.action, report.outcome, report.detail) == ("unlock", "done", None)
        assert report.session is not None  # the visit the resident now makes

        # The resident whose card does not work scans what they take: the scan belongs to
        # that session (the server knows whom for), and the hut does not ask for a card.
        hut.emulator.command("door open")
        hut.emulator.command("scan T0001")
        scan = hut.server.wait_event(lambda e: isinstance(e, ScanEvent), what="the scan")
        assert (scan.session, scan.card) == (report.session, None)
        door = next(e for e in hut.server.events() if isinstance(e, DoorEvent))
        assert door.session == report.session
        assert TEXT_NO_SESSION not in {f.text for f in hut.received(Feedback)}


def test_an_expired_unlock_never_reaches_the_controller_and_is_reported_expired(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        command_id = _sent(hut, hut.server.command("unlock", expired=True))
        report = _report(hut, command_id)
        assert (report.action, report.outcome) == ("unlock", CommandOutcome.EXPIRED)
        assert report.detail is not None and "expiry" in report.detail
        assert report.session is None
        _door_event_after(hut, report.seq)
        assert hut.received(Unlock) == []
        assert hut.gateway.counters().rejected_messages == 1  # refused, as before


def test_a_replayed_command_is_refused_and_not_reported_again(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        payload = hut.server.command("unlock")
        command_id = _sent(hut, payload)
        first = _report(hut, command_id)
        hut.server.publish(hut.server.topics.cmd(HUT), payload)  # captured and sent again
        poll_until(lambda: hut.gateway.counters().rejected_messages == 1, what="the replay refused")
        _door_event_after(hut, first.seq)
        assert len(hut.received(Unlock)) == 1
        assert _reports(hut, command_id) == [first]


def test_with_the_controller_absent_an_unlock_fails_and_says_why(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        hut.emulator.command("unplug")
        hut.server.wait_status(lambda s: s.controller == "absent", what="controller absent")
        command_id = _sent(hut, hut.server.command("unlock"))
        report = _report(hut, command_id)
        assert (report.outcome, report.detail) == (CommandOutcome.FAILED, DETAIL_CONTROLLER_ABSENT)
        enrol = _report(hut, _sent(hut, hut.server.command("enrol")))
        assert (enrol.action, enrol.outcome) == ("enrol", CommandOutcome.FAILED)
        assert hut.received(Unlock) == []


def test_a_status_command_publishes_a_fresh_retained_status_first(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        depth = hut.gateway.outbox.depth()
        hut.server.wait_status(lambda s: s.outbox == depth, what="the status as it stands")
        asked = (utc_now() + timedelta(seconds=5)).replace(microsecond=0)
        hut.wall.set(asked)  # every status from now on says so
        command_id = _sent(hut, hut.server.command("status"))
        report = _report(hut, command_id)
        assert (report.action, report.outcome) == ("status", CommandOutcome.DONE)
        # Published at once, before the report went into the outbox (nothing else moved).
        assert any(s.ts == asked and s.outbox == depth for s in list(hut.server.statuses))


def test_enrol_and_sync_are_reported_done(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        enrol = _report(hut, _sent(hut, hut.server.command("enrol")))
        assert (enrol.action, enrol.outcome) == ("enrol", CommandOutcome.DONE)
        assert TEXT_ENROL_READY in {f.text for f in hut.received(Feedback)}
        sync = _report(hut, _sent(hut, hut.server.command("sync")))
        assert (sync.action, sync.outcome) == ("sync", CommandOutcome.DONE)
        assert sync.detail is not None and "resent" in sync.detail
