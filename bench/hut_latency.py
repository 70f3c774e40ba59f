"""What a resident waits for at the hut, measured at the emulated controller, each against
its raw part taken in the same run.

1. card tap -> unlock frame back, with the server and broker unreachable (the decision is
   local; it must not wait on the disk or the network); the gateway is its own process.
   Raw part: the pseudo-terminal round trip (harness.pty_floor), a frame and its ack;
2. item scan -> the server's feedback frame back, through the whole stack (gateway, broker,
   server, ack) on loopback, on SQLite and on PostgreSQL; server and gateway run as
   processes of their own, as deployed (``--stack demo``: the demo's stack, all in one
   process, SQLite only). Raw part: the raw tap on the same database (harness.raw_tap):
   the request through the same broker, card lookup, insert, commit, reply; and under it
   the broker's own request/response round trip (harness.broker_floors).
3. the same after a pause: scans 20 ms apart, as a resident's are seconds apart, against
   the raw tap with the same pause. Every process of the path sleeps between them; on
   this machine's kind (a VM) a wake-up from idle costs each hop more, the broker's own
   round trip too (0.45 -> 1.05 ms p50 in one trial). No target: issue 15's are judged
   on back-to-back scans, as above.

Each run takes the raw part's samples, then the product's; the stacks start once.

    python bench/hut_latency.py [--taps 300] [--scans 300] [--only unlock|sqlite|postgresql]
                                [--stack processes|demo] [--runs 5] [--quick]
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from _emulator_lines import LineWaiter
from harness import (
    BenchRun,
    Floor,
    Measure,
    at_most,
    parser,
    percentile,
    ratio_at_most,
    repeat,
)
from harness.broker_floors import request_response
from harness.pty_floor import pty_round_trip
from harness.raw_tap import raw_tap
from harness.services import databases, private_broker, scratch_db

from firmware_bridge.emulator import ControllerEmulator
from hut_gateway.allowlist import AllowlistStore
from hut_gateway.settings import GatewaySettings
from toolhut.contract import Allowlist, utc_now
from toolhut.hut_keys import HutCredentials, HutKey, HutKeyring, new_secret_file
from toolhut.mqtt import MqttEndpoint
from toolhut_cli.demo import Demo
from toolhut_cli.embedded_broker import free_port

HUT = "bench-hut"
CARD = "04A1B2C3"  # a seeded resident's
TAG = "T0001"  # a seeded item's
# The feedback line at the controller for a borrow of T0001, then for its return.
FEEDBACK = ('recv feedback beep=ok text="已借出', 'recv feedback beep=ok text="已归还')
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
PAUSE = 0.02  # seconds between a scan's answer and the next scan, in the paused series
# How the stack's processes are started: the ``toolhut`` command (bench/scan_stages.py
# starts them through its own wrapper of it).
TOOLHUT = (sys.executable, "-m", "toolhut_cli.cli")


def start_gateway(
    settings: GatewaySettings, *, toolhut: tuple[str, ...] = TOOLHUT
) -> subprocess.Popen[bytes]:
    """``toolhut gateway`` as its own process, as on the Pi."""
    return subprocess.Popen(
        [*toolhut, "--log-level", "WARNING", "gateway",
         "--hut", settings.hut, "--serial", settings.serial, "--mqtt", settings.mqtt_url,
         "--data-dir", str(settings.data_dir), "--credentials", str(settings.credentials_file)],
        env=_env_without("TOOLHUT_GATEWAY_"),
    )  # fmt: skip


def hut_keys(tmp: Path) -> tuple[Path, Path, HutKeyring]:
    """A new server secret file, and bench-hut's credentials file derived from it."""
    secret_file = tmp / "server-secret"
    keyring = HutKeyring(new_secret_file(secret_file))
    credentials = tmp / "bench-hut.credentials.toml"
    HutCredentials(HUT, keyring(HUT).key).write(credentials)
    return secret_file, credentials, keyring


def _env_without(prefix: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(prefix)}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tap_until_unlocked(
    waiter: LineWaiter, emulator: ControllerEmulator, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Tap the card until the gateway, up and holding an allowlist, unlocks."""
    deadline = time.monotonic() + 30
    while True:
        try:
            waiter.timed("recv unlock", lambda: emulator.command(f"card {CARD}"), timeout=1)
            return
        except RuntimeError:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise


@dataclass(frozen=True, slots=True)
class Hut:
    """A running hut the bench can time: its controller, and what its lines say."""

    waiter: LineWaiter
    emulator: ControllerEmulator


@contextmanager
def offline_gateway(tmp: Path) -> Iterator[Hut]:
    """The gateway as its own process, as on the Pi, with an allowlist kept on disk from
    an earlier day and nobody listening where its broker should be; the emulator is the
    MCU."""
    waiter = LineWaiter()
    emulator = ControllerEmulator(output=waiter)
    emulator.start()
    _, credentials, keyring = hut_keys(tmp)
    settings = GatewaySettings(
        hut=HUT,
        serial=emulator.device_path,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # nobody listens there
        data_dir=tmp / "offline",
        credentials_file=credentials,
    )
    salt = "bench-salt-0001"
    key = keyring(HUT)
    allowlist = Allowlist(
        hut=HUT, version=1, issued=utc_now(), salt=salt, cards=[key.card_hash(salt, CARD)]
    )
    AllowlistStore(settings.allowlist_path, key=key).offer(allowlist.sealed(key))
    gateway = start_gateway(settings)
    try:
        _tap_until_unlocked(waiter, emulator, [gateway])
        yield Hut(waiter, emulator)
    finally:
        _stop(gateway)
        emulator.stop()


def taps(hut: Hut, n: int) -> list[float]:
    return [
        hut.waiter.timed("recv unlock", lambda: hut.emulator.command(f"card {CARD}"))
        for _ in range(n)
    ]


@dataclass(frozen=True, slots=True)
class Stack:
    hut: Hut
    db_url: str
    key: HutKey


@contextmanager
def processes_stack(
    tmp: Path, mqtt_url: str, db_url: str, *, toolhut: tuple[str, ...] = TOOLHUT
) -> Iterator[Stack]:
    """As deployed: ``toolhut server`` and ``toolhut gateway`` as processes of their own,
    the emulated controller here; the door is open, ready for scans."""
    from server.seed import seed_demo
    from server.storage import make_engine, migrate

    secret_file, credentials, keyring = hut_keys(tmp)
    migrate(db_url)  # here, not in a process of its own: a start-up less
    engine = make_engine(db_url)
    seed_demo(engine, hut_id=HUT)
    engine.dispose()
    server = subprocess.Popen(
        [*toolhut, "--log-level", "WARNING", "server",
         "--db", db_url, "--mqtt", mqtt_url, "--host", "127.0.0.1", "--port", str(free_port()),
         "--secret-file", str(secret_file)],
        env=_env_without("TOOLHUT_SERVER_"),
    )  # fmt: skip
    waiter = LineWaiter()
    emulator = ControllerEmulator(output=waiter)
    emulator.start()
    settings = GatewaySettings(
        hut=HUT, serial=emulator.device_path, mqtt_url=mqtt_url, data_dir=tmp / "gw",
        credentials_file=credentials,
    )  # fmt: skip
    gateway = start_gateway(settings, toolhut=toolhut)
    try:
        _tap_until_unlocked(waiter, emulator, [server, gateway])
        waiter.timed("sent door open", lambda: emulator.command("door open"))
        yield Stack(Hut(waiter, emulator), db_url, keyring(HUT))
    finally:
        _stop(gateway)
        _stop(server)
        emulator.stop()


@contextmanager
def demo_stack(tmp: Path, mqtt_url: str, _db_url: str) -> Iterator[Stack]:
    """The demo's stack: gateway, server and ingest share one Python process (and its GIL),
    on the demo's own SQLite file."""
    waiter = LineWaiter()
    demo = Demo(port=free_port(), data_dir=tmp / "stack", mqtt_url=mqtt_url, hut=HUT)
    demo.start(emulator_output=waiter)
    try:
        _wait(lambda: demo.gateway.allowlist.version is not None)
        waiter.timed("recv unlock", lambda: demo.emulator.command(f"card {CARD}"))
        waiter.timed("sent door open", lambda: demo.emulator.command("door open"))
        from server.keys import server_keyring

        db_url = f"sqlite:///{demo.data_dir / 'toolhut.sqlite3'}"
        key = server_keyring(demo.data_dir / "server-secret")(HUT)
        yield Stack(Hut(waiter, demo.emulator), db_url, key)
    finally:
        demo.stop()


def scans(hut: Hut, n: int, first: int, *, pause: float = 0.0) -> list[float]:
    """Each scan of the same label borrows, the next returns: both full ledger writes. Each
    timer waits for its own scan's text, so a late frame (the welcome after the unlock,
    say) cannot stop it early and shift every later sample by one. ``pause``: seconds
    after each answer before the next scan."""
    samples = []
    for i in range(n):
        feedback = FEEDBACK[(first + i) % 2]
        samples.append(hut.waiter.timed(feedback, lambda: hut.emulator.command(f"scan {TAG}")))
        if pause:
            time.sleep(pause)
    return samples


def _wait(predicate: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("stack did not come up")
        time.sleep(0.05)


STACKS: dict[str, Callable[[Path, str, str], AbstractContextManager[Stack]]] = {
    "processes": processes_stack,
    "demo": demo_stack,
}


def unlock_measures(run: BenchRun, n: int) -> None:
    def one(_i: int) -> dict[str, float]:
        floor = pty_round_trip(n)
        product = taps(hut, n)
        return {"floor p99": percentile(floor, 99), "p99": percentile(product, 99),
                "p50": percentile(product, 50)}  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp, offline_gateway(Path(tmp)) as hut:
        runs = repeat(run.runs, one)
    details = {"samples": n, "p50": runs["p50"]}
    run.add(
        Measure(
            "card → unlock p99, server and broker down",
            "ms",
            runs["p99"],
            floor=Floor("pseudo-terminal round trip p99, frame → ack", "ms", runs["floor p99"]),
            target=ratio_at_most(10, "p99 ≤ 10× the pseudo-terminal round trip"),
            details=details,
        )
    )
    run.add(
        Measure(
            "card → unlock p99, server and broker down, absolute",
            "ms",
            runs["p99"],
            target=at_most(5.0, "p99 ≤ 5 ms on an idle machine (see the load average)"),
            details=details,
        )
    )


def scan_measures(
    run: BenchRun, kind: str, n: int, stack_name: str, endpoint: MqttEndpoint
) -> None:
    paused_n = max(n // 3, 10)

    def one(i: int) -> dict[str, float]:
        broker = request_response(endpoint, n)
        floor = raw_tap(endpoint, stack.db_url, n, key=stack.key, card=CARD, tag=TAG)
        first = i * (n + paused_n)  # scans so far: the next borrows or returns
        product = scans(stack.hut, n, first=first)
        paused_floor = raw_tap(
            endpoint, stack.db_url, paused_n, key=stack.key, card=CARD, tag=TAG, pause=PAUSE
        )
        paused = scans(stack.hut, paused_n, first=first + n, pause=PAUSE)
        return {"broker p50": percentile(broker, 50), "floor p50": percentile(floor, 50),
                "floor p99": percentile(floor, 99), "p50": percentile(product, 50),
                "p99": percentile(product, 99), "paused floor p50": percentile(paused_floor, 50),
                "paused p50": percentile(paused, 50)}  # fmt: skip

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_db(kind, name="latency") as db_url,
        STACKS[stack_name](Path(tmp), endpoint.url, db_url) as stack,
    ):
        runs = repeat(run.runs, one)
    name = NAMES[kind]
    for p, bound in (("p50", 3), ("p99", 4)):
        run.add(
            Measure(
                f"scan → feedback {p}, {name}, {stack_name} stack",
                "ms",
                runs[p],
                floor=Floor(
                    f"raw tap {p} on {name}: MQTT request, card lookup, insert, commit, reply",
                    "ms",
                    runs[f"floor {p}"],
                ),
                target=ratio_at_most(bound, f"{p} ≤ {bound}× the raw tap on the same database"),
                details={"samples": n},
            )
        )
    run.add(
        Measure(
            f"scan → feedback p50 after a pause, {name}, {stack_name} stack",
            "ms",
            runs["paused p50"],
            floor=Floor(
                f"raw tap p50 on {name} after the same pause ({PAUSE * 1000:g} ms)",
                "ms",
                runs["paused floor p50"],
            ),
            details={"samples": paused_n, "pause_ms": PAUSE * 1000},
        )
    )
    run.add(  # the database's share of the raw tap: what the broker alone costs
        Measure(
            f"raw tap p50 on {name}, against the broker alone",
            "ms",
            runs["floor p50"],
            floor=Floor("broker request/response p50, QoS 1 both ways", "ms", runs["broker p50"]),
            details={"samples": n},
        )
    )


def main() -> int:
    p = parser(__doc__, runs=5)
    p.add_argument("--taps", type=int, default=None, help="per run (default 300; quick 30)")
    p.add_argument("--scans", type=int, default=None, help="per run (default 300; quick 30)")
    p.add_argument("--only", choices=["unlock", *NAMES], default=None)
    p.add_argument("--stack", choices=list(STACKS), default="processes")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run = BenchRun("hut_latency", args)
    default = 30 if run.quick else 300
    if args.only in (None, "unlock"):
        unlock_measures(run, args.taps or default)
    if args.only != "unlock":
        kinds = databases(args.only)
        if args.stack == "demo":
            kinds = [k for k in kinds if k == "sqlite"]  # the demo's own SQLite file
        for kind in kinds:
            # A broker each: the retained allowlists of one stack never meet the next.
            with private_broker() as endpoint:
                scan_measures(run, kind, args.scans or default, args.stack, endpoint)
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
