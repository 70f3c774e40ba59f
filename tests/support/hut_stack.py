"""A whole hut as real processes — ``toolhut server``, ``toolhut emulator``, ``toolhut
gateway`` — on a broker the test may stop and start again, with the parts started and
killed one by one, and the two databases (the server's ledger, the gateway's outbox) read
straight from their SQLite files. The server's secret and the hut's credentials file are
the test's own (tests/support/keys.py)."""

from __future__ import annotations

import functools
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from server.domain.roles import Role
from server.storage import make_engine, make_sessionmaker
from tests.support.keys import TestKeys
from tests.support.processes import ToolhutProcess, http_json, poll_until, run_toolhut, wait_http
from tests.support.staff_auth import new_user, staff_headers
from toolhut.contract import (
    Allowlist,
    ContractError,
    Status,
    Topics,
    parse_allowlist,
    parse_status,
)
from toolhut.hut_keys import HutKey
from toolhut.mqtt import MqttEndpoint, make_client
from toolhut_cli.embedded_broker import free_port
from toolhut_cli.mosquitto import BrokerAuth, MosquittoProcess, mosquitto_binary

HUT = "outage-hut"
ZHANG = "04A1B2C3"  # 张阿姨, seeded by `toolhut server seed`
LI = "04D5E6F7"  # 李师傅, seeded too
FEEDBACK = r'^recv feedback beep=(\w+) text="(.*)"'

# Quick reconnects and resends, so an outage test waits seconds, not minutes.
FAST_GATEWAY_ENV = {
    "TOOLHUT_GATEWAY_RECONNECT_MIN_S": "0.2",
    "TOOLHUT_GATEWAY_RECONNECT_MAX_S": "1",
    "TOOLHUT_GATEWAY_RESEND_AFTER_S": "2",
}


def visit(emulator: ToolhutProcess, card: str, *scans: str) -> list[tuple[str, str]]:
    """A visit to the hut through the emulator: ``card`` tapped (the door unlocked, the
    welcome shown), the door opened, each of ``scans`` scanned, the door shut. Returns the
    display's answer to each scan, (beep, text): online, the server's, sent once it
    committed what the scan did."""
    emulator.send(f"card {card}")
    emulator.expect(r"^recv unlock pulse_ms=\d+")
    welcome = emulator.expect(FEEDBACK)
    assert welcome.group(1) == "ok", welcome.group(0)
    emulator.send("door open")
    answers = []
    for text in scans:
        emulator.send(f"scan {text}")
        answer = emulator.expect(FEEDBACK)
        answers.append((answer.group(1), answer.group(2)))
    emulator.send("door close")
    return answers


class RestartableBroker:
    """A private Mosquitto on one fixed port, stopped and started again on that port (with
    the same password and ACL files, if ``auth``)."""

    def __init__(self, *, auth: BrokerAuth | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            pytest.skip("mosquitto is not installed: broker outage tests skipped")
        self._binary = binary
        self.port = free_port()
        self._auth = auth
        self._proc: MosquittoProcess | None = None

    @property
    def endpoint(self) -> MqttEndpoint:
        return MqttEndpoint("127.0.0.1", self.port)

    @property
    def url(self) -> str:
        return self.endpoint.url

    def start(self) -> None:
        self._proc = MosquittoProcess(self._binary, port=self.port, auth=self._auth)
        self._proc.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc = None


class StatusWatcher:
    """The hut's retained status as a dashboard with the hut's key sees it; reconnects after
    an outage."""

    def __init__(self, endpoint: MqttEndpoint, topics: Topics, key: HutKey) -> None:
        hut = key.hut
        self._key = key
        self.latest: Status | None = None
        self._lock = threading.Lock()
        self._client = make_client(endpoint, client_id=f"watch-{topics.prefix}-{hut}")
        self._client.on_connect = lambda c, *_: c.subscribe(topics.status(hut), qos=1)
        self._client.on_message = self._on_message
        self._client.connect_async(endpoint.host, endpoint.port)
        self._client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            status = parse_status(message.payload, key=self._key)
        except ContractError:
            return
        with self._lock:
            self.latest = status

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class AllowlistWatcher:
    """Every allowlist the server publishes for the hut, with when it arrived (monotonic)."""

    def __init__(self, endpoint: MqttEndpoint, topics: Topics, key: HutKey) -> None:
        hut = key.hut
        self._key = key
        self.received: list[tuple[float, Allowlist]] = []
        self._lock = threading.Lock()
        self._client = make_client(endpoint, client_id=f"watch-lists-{topics.prefix}-{hut}")
        self._client.on_connect = lambda c, *_: c.subscribe(topics.allowlist(hut), qos=1)
        self._client.on_message = self._on_message
        self._client.connect_async(endpoint.host, endpoint.port)
        self._client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            allowlist = parse_allowlist(message.payload, key=self._key)
        except ContractError:
            return
        with self._lock:
            self.received.append((time.monotonic(), allowlist))

    def wait(
        self, match: Callable[[Allowlist, HutKey], bool], *, after: float, timeout: float
    ) -> Any:
        """The first list that arrived after ``after`` for which ``match(list, hut key)``:
        (arrival, list)."""

        def found() -> tuple[float, Allowlist] | None:
            with self._lock:
                received = [(t, a) for t, a in self.received if t >= after]
            return next(((t, a) for t, a in received if match(a, self._key)), None)

        return poll_until(found, timeout=timeout, what="an allowlist as expected")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class HutStack:
    def __init__(self, tmp_path: Path, broker: RestartableBroker, prefix: str) -> None:
        self.broker = broker
        self.prefix = prefix
        self.db_path = tmp_path / "ledger.sqlite3"
        self.db_url = f"sqlite:///{self.db_path}"
        self.data_dir = tmp_path / "gateway"
        self.link = tmp_path / "hut.tty"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: ToolhutProcess | None = None
        self.gateway: ToolhutProcess | None = None
        self.emulator: ToolhutProcess | None = None
        self.keys = TestKeys(tmp_path / "keys")
        self.key = self.keys.key(HUT)
        self.watcher = StatusWatcher(broker.endpoint, Topics(prefix), self.key)

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / f"{HUT}-outbox.sqlite3"

    def seed(self) -> None:
        seeded = run_toolhut("server", "seed", "--db", self.db_url, "--hut", HUT)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    @functools.cached_property
    def staff_headers(self) -> dict[str, str]:
        """A staff account's API token in the stack's database (made at first use)."""
        engine = make_engine(self.db_url)
        try:
            return staff_headers(make_sessionmaker(engine), Role.STAFF)
        finally:
            engine.dispose()

    def account(self, role: Role = Role.STAFF) -> str:
        """A new account of ``role`` in the stack's database, for signing in at the
        console; its password is tests.support.staff_auth.PASSWORD."""
        engine = make_engine(self.db_url)
        try:
            with make_sessionmaker(engine).begin() as db:
                return new_user(db, role).username
        finally:
            engine.dispose()

    def start_server(self, *, env: dict[str, str] | None = None) -> None:
        self.server = ToolhutProcess(
            "server", "--db", self.db_url, "--mqtt", self.broker.url, "--prefix", self.prefix,
            "--port", str(self.port),
            "--secret-file", str(self.keys.secret_file), env=env,
        )  # fmt: skip
        wait_http(f"{self.base}/readyz", procs=[self.server])

    def stop_server(self) -> None:
        assert self.server is not None
        self.server.stop()
        self.server = None

    def start_emulator(self) -> ToolhutProcess:
        self.emulator = ToolhutProcess("emulator", "--link", str(self.link))
        self.emulator.expect(r"^emulator: link ")
        return self.emulator

    def start_gateway(self, *, env: dict[str, str] | None = None) -> ToolhutProcess:
        """A gateway (``env`` on top of FAST_GATEWAY_ENV), back once it holds the serial port
        and has heard the controller."""
        self.gateway = ToolhutProcess(
            "gateway", "--hut", HUT, "--serial", str(self.link), "--mqtt", self.broker.url,
            "--prefix", self.prefix, "--data-dir", str(self.data_dir),
            "--credentials", str(self.keys.credentials_file(HUT)),
            env={**FAST_GATEWAY_ENV, **(env or {})},
        )  # fmt: skip
        # This gateway's own line, not the emulator's "recv hello": after a restart that one
        # may be the previous gateway's, and a card tapped while no gateway holds the port
        # is lost after the emulator's retries.
        self.gateway.expect(r"controller says hello", timeout=20)
        return self.gateway

    def kill_gateway(self) -> None:
        """Power cut, as far as the gateway can tell: SIGKILL, no clean-up of any kind."""
        assert self.gateway is not None
        self.gateway.proc.send_signal(signal.SIGKILL)
        self.gateway.proc.wait(10)
        self.gateway = None

    def wait_allowlist(self, version: int | None = None) -> None:
        """Until the gateway says it decides with a list (of at least ``version``)."""

        def holds() -> bool:
            held = None if self.watcher.latest is None else self.watcher.latest.allowlist
            return held is not None and (version is None or held >= version)

        poll_until(holds, timeout=20, what=f"gateway status with allowlist {version or 'any'}")

    def outbox(self) -> tuple[int, int]:
        """(events waiting, last sequence number given) from the gateway's own file."""
        with closing(sqlite3.connect(f"file:{self.outbox_path}?mode=ro", uri=True)) as db:
            waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            row = db.execute("SELECT last_seq FROM counter WHERE hut = ?", (HUT,)).fetchone()
        return int(waiting), int(row[0]) if row else 0

    def applied_seqs(self) -> list[int]:
        """Sequence numbers of this hut's events in the server's ledger, one per row."""
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT seq FROM events WHERE hut_id = ? ORDER BY seq", (HUT,))
            return [int(seq) for (seq,) in rows.fetchall()]

    def display_lines_waiting(self) -> list[str]:
        """The hut display's lines stored for members' next card tap, not shown yet."""
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT text FROM display_messages WHERE shown_at IS NULL")
            return [str(text) for (text,) in rows.fetchall()]

    def wait_all_delivered(self, *, timeout: float = 60.0) -> int:
        """Until the outbox is empty and the ledger holds every sequence number; returns it."""

        def done() -> bool:
            waiting, last = self.outbox()
            return waiting == 0 and last > 0 and len(self.applied_seqs()) >= last

        poll_until(done, timeout=timeout, what="every outbox event applied on the server")
        return self.outbox()[1]

    def staff(self, path: str, *, method: str = "GET", body: Any = None) -> Any:
        return http_json(
            f"{self.base}{path}",
            headers=self.staff_headers,
            method=method,
            body=body,
        )

    def item(self, tag: str) -> dict[str, Any]:
        return next(i for i in self.staff("/api/v1/items")["data"] if i["tag"] == tag)

    def stop(self) -> None:
        self.watcher.stop()
        for proc in (self.gateway, self.emulator, self.server):
            if proc is not None:
                proc.stop()


@contextmanager
def hut_stack(
    tmp_path: Path,
    prefix: str,
    *,
    server_env: dict[str, str] | None = None,
    gateway_env: dict[str, str] | None = None,
    hut: bool = True,
) -> Iterator[HutStack]:
    """Broker, seeded server, emulator and gateway up, the allowlist at the gateway
    (``hut=False``: the broker and the seeded server only, for what only the web sees)."""
    broker = RestartableBroker()
    broker.start()
    stack = HutStack(tmp_path, broker, prefix)
    try:
        stack.seed()
        stack.start_server(env=server_env)
        if hut:
            stack.start_emulator()
            stack.start_gateway(env=gateway_env)
            stack.wait_allowlist()
        yield stack
    finally:
        stack.stop()
        broker.stop()
