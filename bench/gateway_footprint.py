"""What a hut gateway costs a Raspberry Pi: resident memory after an hour of a busy hut's
traffic (pushed through at high speed), and CPU while idle.

The gateway runs as its own process (``toolhut gateway``) against an emulated controller on
a pseudo-terminal, a private Mosquitto (TCP_NODELAY) and the real server on SQLite. A busy
hour is taken as ``--visits`` visits (card, door open, borrow scan, return scan, door close:
five events each, every scan answered by the server) plus one controller heartbeat every
2 s (1,800). Then RSS comes from /proc/<pid>/status and idle CPU from /proc/<pid>/stat.

    python bench/gateway_footprint.py [--visits 120] [--idle 60]

Figures go to docs/benchmarks.md. Targets: RSS <= 60 MB, idle CPU <= 1 %.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _emulator_lines import LineWaiter

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Heartbeat
from toolhut.hut_keys import HutCredentials, HutKeyring, new_secret_file
from toolhut_cli.embedded_broker import free_port
from toolhut_cli.mosquitto import MosquittoProcess, mosquitto_binary

HUT = "footprint-hut"
CARD = "04A1B2C3"
TAGS = [f"T000{i}" for i in range(1, 10)]
HEARTBEATS_PER_HOUR = 1800


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_ticks(pid: int) -> int:
    # Fields after the command name, which may hold spaces: utime and stime are 14 and 15.
    stat = Path(f"/proc/{pid}/stat").read_text()
    rest = stat[stat.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=120, help="visits in the busy hour")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU sampling")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from server.app import ServerRuntime
    from server.seed import seed_demo
    from server.settings import ServerSettings
    from server.storage import make_engine, migrate

    binary = mosquitto_binary()
    if binary is None:
        raise SystemExit("needs the mosquitto binary")
    broker = MosquittoProcess(binary)
    endpoint = broker.start()
    with tempfile.TemporaryDirectory(prefix="toolhut-footprint-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        migrate(db)
        engine = make_engine(db)
        seed_demo(engine, hut_id=HUT)
        engine.dispose()
        secret_file = Path(tmp) / "server-secret"
        credentials = Path(tmp) / f"{HUT}.credentials.toml"
        key = HutKeyring(new_secret_file(secret_file))(HUT)
        HutCredentials(HUT, key.key).write(credentials)
        server = ServerRuntime(
            ServerSettings(
                db_url=db, mqtt_url=endpoint.url, port=free_port(),
                secret_file=secret_file,
            )
        )  # fmt: skip
        server.start()
        lines = LineWaiter()
        link = Path(tmp) / "hut.tty"
        # Heartbeats are sent below, an hour's worth at speed; the emulator's own are slow.
        emulator = ControllerEmulator(output=lines, link_path=link, heartbeat_s=3600)
        emulator.start()
        gateway = subprocess.Popen(
            [sys.executable, "-m", "toolhut_cli.cli", "--log-level", "WARNING", "gateway",
             "--hut", HUT, "--serial", str(link), "--mqtt", endpoint.url,
             "--data-dir", str(Path(tmp) / "gateway"), "--credentials", str(credentials)],
            env={k: v for k, v in os.environ.items() if not k.startswith("TOOLHUT_GATEWAY_")},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:  # until the server's allowlist reached the gateway
                try:
                    lines.timed("recv unlock", lambda: emulator.command(f"card {CARD}"), timeout=1)
                    break
                except RuntimeError:
                    if time.monotonic() > deadline or gateway.poll() is not None:
                        raise
            started = time.perf_counter()
            events = 0
            for visit in range(args.visits):
                tag = TAGS[visit % len(TAGS)]
                lines.timed("recv unlock", lambda: emulator.command(f"card {CARD}"))
                emulator.command("door open")
                lines.timed("recv feedback", lambda t=tag: emulator.command(f"scan {t}"))
                lines.timed("recv feedback", lambda t=tag: emulator.command(f"scan {t}"))
                emulator.command("door close")
                events += 5
            for n in range(HEARTBEATS_PER_HOUR):
                # One at a time: the link's send queue is short, as on the real controller.
                emulator.send(Heartbeat(uptime_s=n * 2)).result(timeout=5)
            pushed_s = time.perf_counter() - started
            time.sleep(3)  # the last acks and heartbeats settle
            rss, peak = rss_kib(gateway.pid)
            print(
                f"pushed {args.visits} visits ({events} events) and "
                f"{HEARTBEATS_PER_HOUR} heartbeats in {pushed_s:.1f} s"
            )
            print(f"gateway RSS after the busy hour: {rss / 1024:.1f} MiB (peak {peak / 1024:.1f})")
            ticks = os.sysconf("SC_CLK_TCK")
            before, t0 = cpu_ticks(gateway.pid), time.monotonic()
            time.sleep(args.idle)
            used = (cpu_ticks(gateway.pid) - before) / ticks
            elapsed = time.monotonic() - t0
            print(
                f"gateway idle CPU over {elapsed:.0f} s: {used:.2f} s = "
                f"{100 * used / elapsed:.2f} % of one core"
            )
        finally:
            gateway.terminate()
            gateway.wait(10)
            emulator.stop()
            server.stop()
            broker.stop()


if __name__ == "__main__":
    main()
