"""The all-in-one demo: broker (Mosquitto if one answers, else embedded), server on SQLite
with a seeded bilingual inventory, one emulated hut controller on a real pseudo-terminal and
its gateway, and a prompt that drives the hut."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolhut.embedded_broker import EmbeddedBroker, free_port
from toolhut.mqtt import MqttEndpoint

log = logging.getLogger(__name__)

PROMPT_HELP = """\
Drive the hut by typing controller events (one a line):
  card 04A1B2C3        tap 张阿姨's card   (card 04D5E6F7: 李师傅; any other UID is unknown)
  door open            open the door
  scan T0001           scan an item label (a bare tag or its label URL): borrow, or return
  scan COND:REPAIR     right after a return: it needs repair (also COND:OK, COND:MISSING)
  scan C0001           take a first-aid supply (C0001-C0003)
  door close           close the door: the session ends
  card 04ABCDEF        社区管理员's staff card: stocktake, scans counted until the door closes
  help | quit
"""


class Demo:
    def __init__(self, *, port: int, data_dir: Path, mqtt_url: str, hut: str) -> None:
        self.port = port
        self.data_dir = data_dir.resolve()
        self.requested = MqttEndpoint.parse(mqtt_url)
        self.hut = hut
        self.staff_token = secrets.token_urlsafe(16)
        self._parts: list[Any] = []  # stopped in reverse order

    def run(self) -> int:
        # SIGTERM (docker stop, systemd) stops the demo like Ctrl-C, even mid-readline.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.start()
            self._banner()
            self._prompt()
        except KeyboardInterrupt:
            pass
        finally:
            print("Stopping the demo ...", flush=True)
            self.stop()
            print("Stopped.", flush=True)
        return 0

    def start(self, *, emulator_output: Callable[[str], None] | None = None) -> None:
        """Start every part; benchmarks use this without the prompt."""
        from firmware_bridge.emulator import ControllerEmulator
        from hut_gateway.gateway import Gateway
        from hut_gateway.settings import GatewaySettings
        from server.app import ServerRuntime
        from server.seed import seed_demo
        from server.settings import ServerSettings
        from server.storage import make_engine, migrate

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # One line per HTTP request drowns the hut's lines at the prompt.
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        endpoint = self._broker()
        db_url = f"sqlite:///{self.data_dir / 'toolhut.sqlite3'}"
        settings = ServerSettings(
            db_url=db_url,
            mqtt_url=endpoint.url,
            port=self.port,
            staff_token=self.staff_token,
            public_base_url=f"http://127.0.0.1:{self.port}",
        )
        # Seed before the server starts, so its first allowlist already has the residents.
        migrate(db_url)
        engine = make_engine(db_url)
        try:
            seed_demo(engine, hut_id=self.hut)
        finally:
            engine.dispose()
        server = ServerRuntime(settings)
        server.start()
        self._parts.append(server)

        emulator = ControllerEmulator(output=emulator_output or _print_hut_line)
        emulator.start()
        self._parts.append(emulator)
        self.emulator = emulator

        gateway = Gateway(
            GatewaySettings(
                hut=self.hut,
                serial=emulator.device_path,
                mqtt_url=endpoint.url,
                data_dir=self.data_dir / "gateway",
            )
        )
        gateway.start()
        self._parts.append(gateway)
        self.gateway = gateway
        if not gateway.uplink.wait_connected(10):
            log.warning("gateway has not reached the broker yet; it keeps trying")
        elif not _wait(lambda: gateway.allowlist.version is not None, timeout=10):
            log.warning("no allowlist from the server yet: cards are refused until it comes")

    def _broker(self) -> MqttEndpoint:
        if self.requested.reachable():
            print(f"Using the MQTT broker at {self.requested.url}")
            return self.requested
        port = self.requested.port
        if not _port_free(self.requested.host, port):
            port = free_port(self.requested.host)
        broker = EmbeddedBroker(host=self.requested.host, port=port)
        endpoint = broker.start()
        self._parts.append(broker)
        print(
            f"No broker answered at {self.requested.url}: started an embedded one at {endpoint.url}"
        )
        return endpoint

    def _banner(self) -> None:
        base = f"http://127.0.0.1:{self.port}"
        print(
            f"""
工具屋演示 Tool hut demo is running — hut "{self.hut}", data in {self.data_dir}
  Inventory:     {base}/          (every hut's shelf, refreshes by itself)
  Health:        {base}/healthz
  Items:         {base}/api/v1/items
  Open loans:    {base}/api/v1/loans?status=open
  Item page:     {base}/i/T0001   (what a phone shows after scanning a label)
  Staff view:    curl -H 'Authorization: Bearer {self.staff_token}' {base}/api/v1/items
  API docs:      {base}/docs

{PROMPT_HELP}""",
            flush=True,
        )

    def _prompt(self) -> None:
        interactive = sys.stdin.isatty()
        while True:
            if interactive:
                print("hut> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                print("(no more input: the demo keeps running; Ctrl-C stops it)", flush=True)
                threading.Event().wait()  # until Ctrl-C or SIGTERM
                return
            line = line.strip()
            if not line:
                continue
            if line in {"quit", "exit"}:
                return
            if line == "help":
                print(PROMPT_HELP, flush=True)
                self.emulator.command("help")  # every controller command, alarms included
                continue
            self.emulator.command(line)  # it prints what it sent, or the error

    def stop(self) -> None:
        while self._parts:
            part = self._parts.pop()
            try:
                part.stop()
            except Exception:  # keep stopping the rest
                log.exception("error stopping %s", type(part).__name__)


def _wait(predicate: Callable[[], bool], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_hut_line(line: str) -> None:
    print(f"  [hut] {line}", flush=True)


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
