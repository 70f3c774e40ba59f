"""What a resident waits for at the hut, measured at the emulated controller.

1. card tap -> unlock frame back, with the server and broker unreachable (the decision is
   local; it must not wait on the disk or the network); the gateway is its own process;
2. item scan -> the server's feedback frame back, through the whole stack (gateway, broker,
   server on SQLite, ack) on loopback; server and gateway run as processes of their own, as
   deployed (``--stack demo``: the demo's stack, all in one process);
3. in the same run, the floor under (2): a bare paho request/response over the same broker.

    python bench/hut_latency.py [--taps 300] [--scans 300] [--only unlock|scan]
                                [--stack processes|demo]

Figures go to docs/benchmarks.md; compare them as ratios within one run.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _emulator_lines import LineWaiter

from firmware_bridge.emulator import ControllerEmulator
from hut_gateway.allowlist import AllowlistStore
from hut_gateway.settings import GatewaySettings
from toolhut.contract import Allowlist, utc_now
from toolhut.hut_keys import HutCredentials, HutKeyring, new_secret_file
from toolhut.mqtt import MqttEndpoint, make_client
from toolhut_cli.demo import Demo
from toolhut_cli.embedded_broker import EmbeddedBroker, free_port
from toolhut_cli.mosquitto import MosquittoProcess, mosquitto_binary

CARD = "04A1B2C3"
# The feedback line at the controller for a borrow of T0001, then for its return.
FEEDBACK = ('recv feedback beep=ok text="已借出', 'recv feedback beep=ok text="已归还')


def summary(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"{name:<44} n={len(samples):<5} p50={q[49]:7.2f} ms  p99={q[98]:7.2f} ms"


def start_gateway(settings: GatewaySettings) -> subprocess.Popen[bytes]:
    """``toolhut gateway`` as its own process, as on the Pi."""
    return subprocess.Popen(
        [sys.executable, "-m", "toolhut_cli.cli", "--log-level", "WARNING", "gateway",
         "--hut", settings.hut, "--serial", settings.serial, "--mqtt", settings.mqtt_url,
         "--data-dir", str(settings.data_dir), "--credentials", str(settings.credentials_file)],
        env=_env_without("TOOLHUT_GATEWAY_"),
    )  # fmt: skip


def hut_keys(tmp: Path) -> tuple[Path, Path, HutKeyring]:
    """A new server secret file, and bench-hut's credentials file derived from it."""
    secret_file = tmp / "server-secret"
    keyring = HutKeyring(new_secret_file(secret_file))
    credentials = tmp / "bench-hut.credentials.toml"
    HutCredentials("bench-hut", keyring("bench-hut").key).write(credentials)
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


def card_to_unlock_offline(taps: int, tmp: Path) -> list[float]:
    """The gateway runs as its own process, as on the Pi; the emulator here is the MCU."""
    waiter = LineWaiter()
    emulator = ControllerEmulator(output=waiter)
    emulator.start()
    _, credentials, keyring = hut_keys(tmp)
    settings = GatewaySettings(
        hut="bench-hut",
        serial=emulator.device_path,
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # nobody listens there
        data_dir=tmp / "offline",
        credentials_file=credentials,
    )
    salt = "bench-salt-0001"
    key = keyring("bench-hut")
    allowlist = Allowlist(
        hut="bench-hut", version=1, issued=utc_now(), salt=salt, cards=[key.card_hash(salt, CARD)]
    )
    # Kept on disk from an earlier day, as after a power cut with the network down.
    AllowlistStore(settings.allowlist_path, key=key).offer(allowlist.sealed(key))
    gateway = start_gateway(settings)
    try:
        _tap_until_unlocked(waiter, emulator, [gateway])
        return [
            waiter.timed("recv unlock", lambda: emulator.command(f"card {CARD}"))
            for _ in range(taps)
        ]
    finally:
        _stop(gateway)
        emulator.stop()


def scan_to_feedback(scans: int, tmp: Path, mqtt_url: str) -> list[float]:
    """As deployed: ``toolhut server`` (SQLite) and ``toolhut gateway`` as processes of
    their own, the emulated controller here."""
    db = f"sqlite:///{tmp / 'server.sqlite3'}"
    secret_file, credentials, _ = hut_keys(tmp)
    for action in ("migrate", "seed"):
        extra = ["--hut", "bench-hut"] if action == "seed" else []
        subprocess.run(
            [sys.executable, "-m", "toolhut_cli.cli", "--log-level", "WARNING", "server", action,
             "--db", db, *extra],
            check=True, env=_env_without("TOOLHUT_SERVER_"), stdout=subprocess.DEVNULL,
        )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "toolhut_cli.cli", "--log-level", "WARNING", "server",
         "--db", db, "--mqtt", mqtt_url, "--host", "127.0.0.1", "--port", str(free_port()),
         "--secret-file", str(secret_file)],
        env=_env_without("TOOLHUT_SERVER_"),
    )  # fmt: skip
    waiter = LineWaiter()
    emulator = ControllerEmulator(output=waiter)
    emulator.start()
    settings = GatewaySettings(
        hut="bench-hut", serial=emulator.device_path, mqtt_url=mqtt_url, data_dir=tmp / "gw",
        credentials_file=credentials,
    )  # fmt: skip
    gateway = start_gateway(settings)
    try:
        _tap_until_unlocked(waiter, emulator, [server, gateway])
        return _scan_samples(waiter, emulator, scans)
    finally:
        _stop(gateway)
        _stop(server)
        emulator.stop()


def _scan_samples(waiter: LineWaiter, emulator: ControllerEmulator, scans: int) -> list[float]:
    waiter.timed("sent door open", lambda: emulator.command("door open"))
    # Each scan of the same label borrows, the next returns: both are full ledger writes.
    # Each timer waits for its own scan's text, so a late frame (the welcome after the
    # unlock, say) cannot stop it early and shift every later sample by one.
    return [
        waiter.timed(FEEDBACK[n % 2], lambda: emulator.command("scan T0001")) for n in range(scans)
    ]


def scan_to_feedback_in_one_process(scans: int, tmp: Path, mqtt_url: str) -> list[float]:
    """The demo's stack: gateway, server and ingest share one Python process (and its GIL)."""
    waiter = LineWaiter()
    demo = Demo(port=free_port(), data_dir=tmp / "stack", mqtt_url=mqtt_url, hut="bench-hut")
    demo.start(emulator_output=waiter)
    try:
        _wait(lambda: demo.gateway.allowlist.version is not None)
        waiter.timed("recv unlock", lambda: demo.emulator.command(f"card {CARD}"))
        return _scan_samples(waiter, demo.emulator, scans)
    finally:
        demo.stop()


def broker_round_trip(n: int, mqtt_url: str) -> list[float]:
    endpoint = MqttEndpoint.parse(mqtt_url)
    got = threading.Event()
    topic = f"bench/{time.time_ns()}"
    responder = make_client(endpoint, client_id=f"bench-resp-{time.time_ns()}")
    responder.on_message = lambda c, u, m: c.publish(f"{topic}/res", m.payload, qos=1)
    requester = make_client(endpoint, client_id=f"bench-req-{time.time_ns()}")
    requester.on_message = lambda c, u, m: got.set()
    for client, sub in ((responder, f"{topic}/req"), (requester, f"{topic}/res")):
        client.connect(endpoint.host, endpoint.port)
        client.subscribe(sub, qos=1)
        client.loop_start()
    time.sleep(0.3)
    samples = []
    try:
        for _ in range(n):
            got.clear()
            start = time.perf_counter()
            requester.publish(f"{topic}/req", b"x" * 200, qos=1)
            if not got.wait(5):
                raise RuntimeError("broker round trip timed out")
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        for client in (responder, requester):
            client.disconnect()
            client.loop_stop()
    return samples


def _wait(predicate: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError("stack did not come up")
        time.sleep(0.05)


STACKS = {"processes": scan_to_feedback, "demo": scan_to_feedback_in_one_process}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=300)
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument(
        "--mqtt",
        default="own",
        help="broker URL, or 'own' (default): a private Mosquitto with TCP_NODELAY, as deployed",
    )
    parser.add_argument(
        "--only",
        choices=["unlock", "scan"],
        help="run only card -> unlock (no broker needed), or only scan -> feedback and its floor",
    )
    parser.add_argument(
        "--stack",
        choices=["processes", "demo"],
        default="processes",
        help="scan -> feedback with server and gateway as processes of their own (default, as "
        "deployed) or the demo's stack in one process",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.only != "scan":
        with tempfile.TemporaryDirectory() as tmp:
            offline = card_to_unlock_offline(args.taps, Path(tmp))
        print(summary("card -> unlock, server and broker down", offline))
    if args.only == "unlock":
        return
    broker = None
    mqtt_url = args.mqtt
    if mqtt_url == "own":
        binary = mosquitto_binary()
        broker = MosquittoProcess(binary) if binary else EmbeddedBroker()
        mqtt_url = broker.start().url
        print(f"broker: {'mosquitto' if binary else 'embedded amqtt'} at {mqtt_url}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            measure = STACKS[args.stack]
            scans = measure(args.scans, Path(tmp), mqtt_url)
            floor = broker_round_trip(args.scans, mqtt_url)
    finally:
        if broker is not None:
            broker.stop()
    print(summary(f"scan -> server feedback, full stack ({args.stack})", scans))
    print(summary("bare broker request/response (floor)", floor))
    print(
        "ratio scan/broker floor at p50: "
        f"{statistics.median(scans) / statistics.median(floor):.1f}x"
    )


if __name__ == "__main__":
    main()
