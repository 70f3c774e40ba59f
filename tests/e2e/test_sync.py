"""The server comes back while the broker stayed up: its ingest asks every hut to sync,
and the gateway resends what the server never saw at once, not after resend_after_s."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.hut_stack import ZHANG, hut_stack
from tests.support.processes import poll_until

pytestmark = pytest.mark.e2e

SLOW_RESEND_S = 300  # far beyond the test's patience: only a sync can deliver in time


def test_a_returning_server_gets_the_missed_events_at_once(
    tmp_path: Path, topic_prefix: str
) -> None:
    with hut_stack(tmp_path, topic_prefix) as stack:
        emulator = stack.emulator
        assert emulator is not None and stack.gateway is not None
        stack.gateway.stop()
        stack.start_gateway(env={"TOOLHUT_GATEWAY_RESEND_AFTER_S": str(SLOW_RESEND_S)})
        stack.wait_all_delivered()

        stack.stop_server()  # the broker stays up: these events reach no subscriber
        emulator.send(f"card {ZHANG}")
        emulator.expect(r"^recv unlock")
        for line in ("door open", "scan T0001", "scan T0003", "door close"):
            emulator.send(line)
        poll_until(lambda: stack.outbox()[0] >= 5, what="unacked events in the outbox")

        started = time.monotonic()
        stack.start_server()
        last = stack.wait_all_delivered(timeout=30)
        assert time.monotonic() - started < SLOW_RESEND_S / 10
        assert stack.applied_seqs() == list(range(1, last + 1))
        for tag in ("T0001", "T0003"):
            assert stack.item(tag)["status"] == "on_loan", tag
