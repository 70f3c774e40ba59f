"""Round trip over a real pty: host Link send -> emulator's Link ack -> future resolved.

python bench/serial_roundtrip.py [--frames 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import serial

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Heartbeat
from firmware_bridge.link import Link, SerialTransport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    emulator = ControllerEmulator(output=lambda _line: None, heartbeat_s=3600)
    emulator.start()
    port = serial.Serial(emulator.device_path, exclusive=True)
    host = Link(SerialTransport(port), lambda _frame: None, name="host")
    host.start()
    try:
        for i in range(100):  # warm up; also lets the emulator's boot Hello settle
            host.send(Heartbeat(i)).result(timeout=1)
        samples = []
        for i in range(args.frames):
            started = time.perf_counter()
            if not host.send(Heartbeat(i)).result(timeout=1):
                raise SystemExit(f"frame {i} was not acked")
            samples.append((time.perf_counter() - started) * 1e6)
    finally:
        host.stop()
        port.close()
        emulator.stop()
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(
        f"{len(samples)} frames, send -> ack over a pty: "
        f"p50 {p50:.0f} us, p99 {p99:.0f} us, max {samples[-1]:.0f} us; "
        f"retransmits {host.stats.retransmits}"
    )


if __name__ == "__main__":
    main()
