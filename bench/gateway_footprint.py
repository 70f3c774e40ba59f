"""What a hut gateway costs a Raspberry Pi: resident memory after each hour of a busy hut's
traffic (pushed through at high speed), and CPU while idle after it.

The gateway runs as its own process (``toolhut gateway``) against an emulated controller on
a pseudo-terminal, a private Mosquitto (TCP_NODELAY) and the real server on SQLite. A busy
hour is taken as ``--visits`` visits (card, door open, borrow scan, return scan, door close:
five events each, every scan answered by the server) plus one controller heartbeat every
2 s (1,800). Each run is one more such hour on the same gateway, then RSS from
/proc/<pid>/status and idle CPU from /proc/<pid>/stat over ``--idle`` seconds; RSS that
grows from run to run is a leak. The floor of RSS, each run: a Python process with the
gateway's libraries imported (paho, pyserial, cryptography, pydantic), nothing started.

    python bench/gateway_footprint.py [--visits 120] [--idle 60] [--runs 3] [--quick]

Targets: RSS <= 60 MB, idle CPU <= 1 %.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from _emulator_lines import LineWaiter
from harness import BenchRun, Floor, Measure, at_most, parser, repeat
from harness.services import private_broker

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import Heartbeat
from toolhut.hut_keys import HutCredentials, HutKeyring, new_secret_file
from toolhut_cli.embedded_broker import free_port

HUT = "footprint-hut"
CARD = "04A1B2C3"
TAGS = [f"T000{i}" for i in range(1, 10)]
HEARTBEATS_PER_HOUR = 1800
# The floor: the interpreter and the gateway's libraries, nothing of ours started.
BARE = (
    "import sys, paho.mqtt.client, serial, pydantic, sqlite3\n"
    "from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


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


def bare_rss_mb() -> float:
    """RSS of the floor process, once it says it has imported everything."""
    bare = subprocess.Popen(
        [sys.executable, "-c", BARE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert bare.stdout is not None
        if bare.stdout.readline().strip() != "ready":
            raise RuntimeError("the floor process did not start")
        return rss_kib(bare.pid)[0] * 1024 / 1e6
    finally:
        bare.communicate("", timeout=10)


def busy_hour(lines: LineWaiter, emulator: ControllerEmulator, visits: int, beats: int) -> None:
    for visit in range(visits):
        tag = TAGS[visit % len(TAGS)]
        lines.timed("recv unlock", lambda: emulator.command(f"card {CARD}"))
        emulator.command("door open")
        for _ in range(2):  # borrow, and back
            lines.timed("recv feedback", partial(emulator.command, f"scan {tag}"))
        emulator.command("door close")
    for n in range(beats):
        # One at a time: the link's send queue is short, as on the real controller.
        emulator.send(Heartbeat(uptime_s=n * 2)).result(timeout=5)


def idle_cpu_percent(pid: int, seconds: float) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    before, t0 = cpu_ticks(pid), time.monotonic()
    time.sleep(seconds)  # the measure is what the gateway does while nothing happens
    used = (cpu_ticks(pid) - before) / ticks
    return 100 * used / (time.monotonic() - t0)


def main() -> int:
    p = parser(__doc__, runs=3)
    p.add_argument("--visits", type=int, default=None, help="visits in the busy hour (120)")
    p.add_argument("--idle", type=float, default=None, help="seconds of idle CPU sampling (60)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run = BenchRun("gateway_footprint", args)
    visits = args.visits or (10 if run.quick else 120)
    idle = args.idle or (2.0 if run.quick else 60.0)
    beats = 100 if run.quick else HEARTBEATS_PER_HOUR

    from server.app import ServerRuntime
    from server.seed import seed_demo
    from server.settings import ServerSettings
    from server.storage import make_engine, migrate

    with (
        private_broker() as endpoint,
        tempfile.TemporaryDirectory(prefix="toolhut-footprint-") as tmp,
    ):
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

            def one(_i: int) -> dict[str, float]:
                started = time.perf_counter()
                busy_hour(lines, emulator, visits, beats)
                pushed = time.perf_counter() - started
                rss, peak = rss_kib(gateway.pid)
                cpu = idle_cpu_percent(gateway.pid, idle)
                return {"floor": bare_rss_mb(), "rss": rss * 1024 / 1e6, "peak": peak * 1024 / 1e6,
                        "pushed_s": pushed, "idle": cpu}  # fmt: skip

            runs = repeat(run.runs, one)
        finally:
            gateway.terminate()
            gateway.wait(10)
            emulator.stop()
            server.stop()
    hour = f"{visits} visits ({visits * 5} events) and {beats:,} heartbeats"
    run.add(
        Measure(
            f"gateway RSS after each busy hour ({hour})",
            "MB",
            runs["rss"],
            floor=Floor(
                "Python with the gateway's libraries imported, nothing started",
                "MB",
                runs["floor"],
            ),
            target=at_most(60, "≤ 60 MB"),
            details={"peak": runs["peak"], "pushed_s": runs["pushed_s"]},
        )
    )
    run.add(
        Measure(
            f"gateway idle CPU over {idle:g} s after each busy hour",
            "% of one core",
            runs["idle"],
            target=at_most(1.0, "≤ 1 %"),
        )
    )
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
