"""The pseudo-terminal round trip: the host's Link sends a frame, the emulated
controller's Link acks it, the host's future resolves. The floor under card -> unlock
(two trips over the same kind of pty, plus the gateway's decision)."""

from __future__ import annotations

import time

import serial

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Heartbeat
from firmware_bridge.link import Link, SerialTransport

WARM_UP = 100  # frames; also lets the emulator's boot Hello settle


def pty_round_trip(frames: int) -> list[float]:
    """Milliseconds per frame sent -> acked, after the warm-up (a retransmit, on a busy
    machine, is in its sample)."""
    emulator = ControllerEmulator(output=lambda _line: None, heartbeat_s=3600)
    emulator.start()
    port = serial.Serial(emulator.device_path, exclusive=True)
    host = Link(SerialTransport(port), lambda _frame: None, name="host")
    host.start()
    try:
        for i in range(WARM_UP):
            host.send(Heartbeat(i)).result(timeout=1)
        samples = []
        for i in range(frames):
            started = time.perf_counter()
            if not host.send(Heartbeat(i)).result(timeout=1):
                raise RuntimeError(f"frame {i} was not acked")
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        host.stop()
        port.close()
        emulator.stop()
