"""The gateway acks a controller frame only once its event is in the outbox: a gateway
killed just after the ack (the fault run found it: three acked frames of a SIGKILLed
gateway never reached the ledger) would otherwise lose an event the controller, holding
its ack, never sends again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.frames import DoorChanged, QrScan
from hut_gateway.outbox import Outbox
from tests.hut_gateway.rig import bench
from tests.support.services import Broker

WRITE_S = 0.03  # a slow SD card's sync, still inside the controller's 50 ms ack timeout


def stored_types(outbox: Outbox) -> list[str]:
    """The types of the events in the outbox (encrypted at rest: read through it)."""
    return [json.loads(row.payload)["type"] for row in outbox.pending(limit=100_000)]


def test_a_frame_is_acked_only_once_its_event_is_in_the_outbox(
    tmp_path: Path, broker: Broker, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bench(tmp_path, broker, topic_prefix) as hut:
        outbox = hut.gateway.outbox
        append = outbox.append

        def slow_append(*args: Any, **kwargs: Any) -> Any:
            time.sleep(WRITE_S)
            return append(*args, **kwargs)

        monkeypatch.setattr(outbox, "append", slow_append)
        for frame, kind in ((DoorChanged(open=True), "door"), (QrScan("T0001"), "scan")):
            before = stored_types(outbox).count(kind)
            assert hut.emulator.send(frame).result(timeout=5)
            assert stored_types(outbox).count(kind) == before + 1, kind
