"""Outages with real processes: the broker goes away in the middle of a session, and the
gateway is killed (SIGKILL) while its outbox holds events the server never saw. Every event
must reach the ledger exactly once, and the ledger must be right."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.support.hut_stack import ZHANG, HutStack, hut_stack
from tests.support.processes import poll_until

pytestmark = pytest.mark.e2e


def assert_each_event_once(stack: HutStack, last_seq: int) -> None:
    # One ledger row per sequence number 1..last: none lost, none applied twice (a seq
    # given out again after a kill would show up as a second row with that number).
    assert stack.applied_seqs() == list(range(1, last_seq + 1))


def test_broker_restart_in_mid_session_loses_and_repeats_nothing(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix) as stack:
        emulator = stack.emulator
        assert emulator is not None
        emulator.send(f"card {ZHANG}")
        emulator.expect(r"^recv unlock")
        emulator.send("door open")
        emulator.send("scan T0001")
        assert emulator.expect(r"^recv feedback beep=(\w+) text=\"[^\"]*借").group(1) == "ok"

        stack.broker.stop()
        # The hut carries on: scans are recorded, a known card still opens the door.
        for line in ("scan T0002", "scan T0003", "scan T0001", "door close"):
            emulator.send(line)
        emulator.send(f"card {ZHANG}")
        emulator.expect(r"^recv unlock")
        emulator.send("door open")
        emulator.send("scan T0004")
        emulator.send("door close")
        poll_until(lambda: stack.outbox()[0] >= 8, what="offline events in the outbox")

        stack.broker.start()  # same port, empty: no retained messages, no sessions
        last = stack.wait_all_delivered()
        assert_each_event_once(stack, last)
        assert stack.item("T0001")["status"] == "available"
        for tag in ("T0002", "T0003", "T0004"):
            assert stack.item(tag)["status"] == "on_loan", tag
        open_loans = stack.staff("/api/v1/loans?status=open")["data"]
        assert sorted(loan["tag"] for loan in open_loans) == ["T0002", "T0003", "T0004"]
        poll_until(
            lambda: stack.watcher.latest is not None and stack.watcher.latest.outbox == 0,
            what="status reporting an empty outbox",
        )


def test_gateway_killed_with_a_full_outbox_delivers_everything_once_after_restart(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix) as stack:
        emulator = stack.emulator
        assert emulator is not None
        stack.stop_server()  # nothing is acked from here on
        emulator.send(f"card {ZHANG}")
        emulator.expect(r"^recv unlock")
        for line in ("door open", "scan T0001", "scan T0002", "scan T0005", "door close"):
            emulator.send(line)
        poll_until(lambda: stack.outbox()[0] >= 6, what="unacked events in the outbox")
        waiting_before, last_before = stack.outbox()
        # What a stolen SD card shows: the card's event is in there, its UID is not.
        files = sorted(stack.data_dir.iterdir())
        assert stack.outbox_path in files
        raw = b"".join(path.read_bytes() for path in files)
        assert ZHANG.encode() not in raw and ZHANG.lower().encode() not in raw
        assert stat.S_IMODE(stack.data_dir.stat().st_mode) == 0o700
        assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in files} == {
            path.name: 0o600 for path in files
        }

        stack.kill_gateway()
        # The broker publishes the gateway's last will: sealed, so the watcher (with the
        # hut's key) takes it.
        poll_until(
            lambda: stack.watcher.latest is not None and stack.watcher.latest.state == "offline",
            what="the sealed last will",
        )
        stack.start_server()
        stack.start_gateway()

        last = stack.wait_all_delivered()
        assert last >= last_before  # the restart's own hello came after them
        assert_each_event_once(stack, last)
        assert waiting_before >= 6
        for tag in ("T0001", "T0002", "T0005"):
            assert stack.item(tag)["status"] == "on_loan", tag
        assert stack.item("T0003")["status"] == "available"
