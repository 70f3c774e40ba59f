"""The all-in-one demo: broker (Mosquitto if one answers, else embedded), server on SQLite
with a seeded bilingual inventory, one emulated hut controller on a real pseudo-terminal and
its gateway, and a prompt that drives the hut."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolhut.contract import DEFAULT_PREFIX
from toolhut.mqtt import MqttEndpoint
from toolhut_cli import demo_texts as texts
from toolhut_cli.demo_console import Console, log_to_file
from toolhut_cli.embedded_broker import EmbeddedBroker, free_port

log = logging.getLogger(__name__)

HTTP_HOST = "127.0.0.1"


class DemoStartError(RuntimeError):
    """The demo cannot start; the message says what to change."""


class Demo:
    def __init__(
        self,
        *,
        port: int,
        data_dir: Path,
        mqtt_url: str,
        hut: str,
        prefix: str = DEFAULT_PREFIX,
        console: Console | None = None,
    ) -> None:
        self.port = port
        self.data_dir = data_dir.resolve()
        self.requested = MqttEndpoint.parse(mqtt_url)
        self.hut = hut
        self.prefix = prefix
        self.console = console or Console()
        self.admin: Any = None  # the DemoAdmin, once started
        self.clock: Any = None  # the DemoClock of the prompt's `time`, once started
        self._parts: list[Any] = []  # stopped in reverse order
        self._stopping = threading.Event()
        self.broker_url = self.requested.url

    @property
    def log_path(self) -> Path:
        return self.data_dir / "demo.log"

    def run(self, *, log_level: int | str = logging.INFO) -> int:
        # Before anything starts: a busy port found after the broker, the migration and the
        # seed would leave a traceback and half a demo behind.
        if not port_free(HTTP_HOST, self.port):
            self.console.print(texts.PORT_BUSY.format(port=self.port, host=HTTP_HOST))
            return 2
        try:
            log_to_file(self.console, path=self.log_path, level=log_level)
        except OSError as exc:
            self.console.print(texts.START_FAILED.format(reason=exc))
            return 1
        _import_parts()
        # SIGTERM (docker stop, systemd) stops the demo like Ctrl-C, even mid-readline.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.start()
            self._banner()
            self._prompt()
        except KeyboardInterrupt:
            pass
        except DemoStartError as exc:
            self.console.print(texts.START_FAILED.format(reason=exc))
            return 1
        finally:
            self.console.print("Stopping the demo ...")
            self.stop()
            self.console.print("Stopped.")
        return 0

    def start(self, *, emulator_output: Callable[[str], None] | None = None) -> None:
        """Start every part; benchmarks use this without the prompt."""
        from firmware_bridge.emulator import ControllerEmulator
        from hut_gateway.gateway import Gateway
        from hut_gateway.settings import GatewaySettings
        from server.app import ServerRuntime
        from server.clock_settings import ClockSettings
        from server.keys import server_keyring
        from server.seed import seed_demo
        from server.settings import ServerSettings
        from server.storage import make_engine, make_sessionmaker, migrate
        from toolhut.hut_keys import HutCredentials
        from toolhut_cli.demo_admin import demo_admin

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # One line per HTTP request (the inventory page polls) would only bury the log.
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        endpoint = self._broker()
        self.broker_url = endpoint.url
        db_url = f"sqlite:///{self.data_dir / 'toolhut.sqlite3'}"
        # The demo is both ends: its server secret, and the demo hut's credentials derived
        # from it (no broker user: the demo's broker lets anyone in), in its data folder.
        secret_file = self.data_dir / "server-secret"
        hut_key = server_keyring(secret_file)(self.hut)
        credentials_file = self.data_dir / f"{self.hut}.credentials.toml"
        HutCredentials(self.hut, hut_key.key).write(credentials_file)
        settings = ServerSettings(
            secret_file=secret_file,
            db_url=db_url,
            mqtt_url=endpoint.url,
            topic_prefix=self.prefix,
            host=HTTP_HOST,
            port=self.port,
            public_base_url=f"http://{HTTP_HOST}:{self.port}",
            clock=ClockSettings(enabled=True),  # the prompt's `time +4d`: a demo only
        )
        # Seed before the server starts, so its first allowlist already has the residents.
        migrate(db_url)
        engine = make_engine(db_url)
        try:
            seed_demo(engine, hut_id=self.hut)
            self.admin = demo_admin(make_sessionmaker(engine), self.data_dir / "admin-password")
        finally:
            engine.dispose()
        server = ServerRuntime(settings)
        try:
            server.start()
        except RuntimeError as exc:  # the port was taken between our check and now
            raise DemoStartError(f"{exc}; pick another port with --port") from exc
        self._parts.append(server)
        self.clock = self._demo_clock(server)

        emulator = ControllerEmulator(output=emulator_output or self._print_hut_line)
        emulator.start()
        self._parts.append(emulator)
        self.emulator = emulator

        gateway = Gateway(
            GatewaySettings(
                hut=self.hut,
                serial=emulator.device_path,
                mqtt_url=endpoint.url,
                topic_prefix=self.prefix,
                data_dir=self.data_dir / "gateway",
                credentials_file=credentials_file,
                unlock_pulse_ms=texts.DEMO_UNLOCK_S * 1000,
            )
        )
        gateway.start()
        self._parts.append(gateway)
        self.gateway = gateway
        if not gateway.uplink.wait_connected(10):
            log.warning(texts.NO_BROKER_YET)
        elif not _wait(lambda: gateway.allowlist.version is not None, timeout=10):
            log.warning(texts.NO_ALLOWLIST_YET)
        threading.Thread(target=self._announce_allowlist, name="demo-ready", daemon=True).start()

    def _demo_clock(self, server: Any) -> Any:
        """The prompt's `time`, on the server's own clock; it also shows each sweep's sent
        reminders (the demo's channel is the hut display, seen only at a card tap)."""
        from server.reminders.zones import hut_zone
        from server.storage.models import DEFAULT_TIMEZONE
        from toolhut_cli.demo_admin import TOKEN_LIFETIME
        from toolhut_cli.demo_clock import DemoClock

        clock = DemoClock(
            self.console,
            clock=server.clock,
            sessions=server.sessions,
            quiet=server.settings.reminders.quiet_hours,
            zone=hut_zone(DEFAULT_TIMEZONE),  # the seeded hut's
            token_lifetime=TOKEN_LIFETIME,
        )
        server.reminders.on_sweep(clock.reminders_swept)
        return clock

    def _broker(self) -> MqttEndpoint:
        if self.requested.reachable():
            log.info("using the MQTT broker at %s", self.requested.url)
            return self.requested
        port = self.requested.port
        if not port_free(self.requested.host, port):
            port = free_port(self.requested.host)
        broker = EmbeddedBroker(host=self.requested.host, port=port)
        endpoint = broker.start()
        self._parts.append(broker)
        self.console.print(
            f"No broker answered at {self.requested.url}: started an embedded one at {endpoint.url}"
        )
        return endpoint

    def _announce_allowlist(self) -> None:
        # The one line that says the hut is ready, however late the allowlist comes.
        gateway = self.gateway
        while gateway.allowlist.version is None:
            if self._stopping.wait(0.05):
                return
        self._print_hut_line(texts.ALLOWLIST_READY.format(version=gateway.allowlist.version))

    def _banner(self) -> None:
        self.console.print(
            texts.BANNER.format(
                hut=self.hut,
                prefix=self.prefix,
                base=f"http://{HTTP_HOST}:{self.port}",
                token=self.admin.token,
                admin=self.admin.username,
                password=self.admin.password,
                data_dir=self.data_dir,
                broker=self.broker_url,
                log_path=self.log_path,
            )
        )
        self.console.print(texts.PROMPT_HELP)

    def _prompt(self) -> None:
        while True:
            line = self.console.read_line()
            if line is None:
                self.console.print(texts.END_OF_INPUT)
                self.console.wait_for_signal()
                return
            line = line.strip()
            if not line:
                continue
            if line in {"quit", "exit"}:
                return
            if line == "time" or line.startswith("time "):
                self.clock.command(line.removeprefix("time"))
                continue
            if line == "help":
                self.console.print(texts.PROMPT_HELP)
                self.emulator.command("help")  # every controller command, alarms included
                continue
            self.emulator.command(line)  # it prints what it sent, or the error

    def _print_hut_line(self, line: str) -> None:
        self.console.print(f"  [hut] {line}")
        for start, note in texts.HUT_NOTES.items():
            if line.startswith(start):
                self.console.print(f"        {note}")

    def stop(self) -> None:
        self._stopping.set()
        while self._parts:
            part = self._parts.pop()
            try:
                part.stop()
            except Exception:  # keep stopping the rest
                log.exception("error stopping %s", type(part).__name__)


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``port`` now (as uvicorn binds: SO_REUSEADDR, so a
    connection of a stopped demo lingering in TIME_WAIT does not count as busy)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _import_parts() -> None:
    # Every part up front, so a missing extra is reported before anything starts; after the
    # log file is set up, since some log at import.
    import amqtt  # noqa: F401

    import hut_gateway.gateway  # noqa: F401
    import server.app  # noqa: F401


def _wait(predicate: Callable[[], bool], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
