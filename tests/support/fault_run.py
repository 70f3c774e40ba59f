"""The fault run: emulated huts, each with its own ``toolhut gateway`` process, send events
(taps, door changes, borrow and return scans) through a real Mosquitto with the generated
ACLs (``FaultBroker``) to two ``toolhut server`` processes on PostgreSQL (a shared
subscription), while a seeded schedule SIGKILLs and restarts the broker, a server and a
gateway, cuts one gateway off the network for minutes of its clock
(``hut_gateway.skewed_clock``), and writes line noise on one serial link. Afterwards it
checks that nothing was lost or applied twice and that the ledger equals a replay of the
event log, and counts what happened.

Used by ``tests/e2e/test_faults.py`` (a short run) and ``bench/fault_run.py`` (10,000
events). Every wait is for evidence (a frame acked, a line, a row, an outbox file), with
a timeout; the faults are placed by progress (events driven so far), not by time.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firmware_bridge.emulator import ControllerEmulator
from firmware_bridge.frames import CardRead, DoorChanged, Frame, QrScan
from hut_gateway.outbox import Outbox
from hut_gateway.skewed_clock import ENV as CLOCK_ENV
from server.broker_auth import (
    ACL_FILE,
    HUTS_DIR,
    PASSWORD_FILE,
    SERVER_PASSWORD_FILE,
    password_hash,
    write_broker_auth,
)
from server.domain import Category
from server.storage import make_engine
from server.storage.ingest_models import HutSequence, SequenceGap
from server.storage.models import EventRecord, RejectedMessage
from tests.support.hut_stack import FAST_GATEWAY_ENV, RestartableBroker, StatusWatcher
from tests.support.keys import TestKeys
from tests.support.ledger_replay import items_on_two_open_loans, ledger_snapshot, replay
from tests.support.ledger_setup import furnish, stop_line
from tests.support.mqtt_probe import Probe
from tests.support.processes import ToolhutProcess, poll_until
from tests.support.tcp_proxy import CuttableProxy
from toolhut.contract import ContractError, TopicKind, Topics, parse_ack, parse_event
from toolhut.hut_keys import HutKey, HutKeyring
from toolhut.mqtt import MqttEndpoint, make_client
from toolhut_cli.embedded_broker import free_port
from toolhut_cli.mosquitto import BrokerAuth

SHARED_GROUP = "toolhut-servers"
OBSERVER = "fault-observer"  # the run's monitoring account: reads <prefix>/#, writes nothing
SERVERS = ("a", "b")
CLOCK_RATE = 30  # the cut-off gateway's clock: a real second is half a minute
CLOCK_BEHIND_S = 12 * 3600  # ... and it starts this far behind, so it never runs ahead
MEMBERS = 6
ITEMS = 16
FRAME_TIMEOUT = 5.0
FEEDBACK_WAIT_S = 0.5


@dataclass(frozen=True)
class HutPlan:
    hut: str
    cards: tuple[str, ...]
    items: dict[str, Category]


def plan_huts(count: int) -> list[HutPlan]:
    """Huts that share no resident and no item (so only per-hut order matters)."""
    plans = []
    for n in range(count):
        cards = tuple(f"FA17{n:02X}{m:02X}" for m in range(MEMBERS))
        items = {
            f"F{n}{k:02d}": Category.HAND_TOOLS if k % 2 else Category.FITNESS for k in range(ITEMS)
        }
        plans.append(HutPlan(f"fault-{n}", cards, items))
    return plans


@dataclass
class Counts:
    sent: int = 0  # events the gateways recorded (every seq of every outbox)
    driven: int = 0  # card, door and scan frames the gateways' serial links acked
    applied: int = 0
    rejected: int = 0  # applied by the rules as a refusal (e.g. a scan with no card)
    duplicates_dropped: int = 0  # acks "duplicate" seen on the wire
    redelivered: int = 0  # event publishes seen on the wire beyond each id's first
    dead_lettered: int = 0
    queued_acks: int = 0
    noise_bytes: int = 0
    frames_given_up: int = 0  # frames the emulators gave up on (their gateway was down)

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in vars(self).items())


@dataclass
class Report:
    counts: Counts
    problems: list[str]
    faults: list[str]
    cut_clock_span_s: float
    wall_s: float
    details: dict[str, Any] = field(default_factory=dict)


class _Lines:
    """An emulator's output, counted by prefix, for waiting on what it received."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._counts: Counter[str] = Counter()

    def __call__(self, line: str) -> None:
        with self._cond:
            for prefix in ("recv unlock", "recv hello", "recv feedback"):
                if line.startswith(prefix):
                    self._counts[prefix] += 1
                    self._cond.notify_all()

    def count(self, prefix: str) -> int:
        with self._cond:
            return self._counts[prefix]

    def wait_more(self, prefix: str, than: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._counts[prefix] > than, timeout)


class WireObserver:
    """Every event publish and every ack on the broker, as a monitoring client sees them
    (what it misses while the broker is down is not counted)."""

    def __init__(self, endpoint: MqttEndpoint, topics: Topics, keyring: HutKeyring) -> None:
        self.publishes: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._topics = topics
        self._keyring = keyring
        self._events = topics.all_huts(TopicKind.EVENTS)
        self._acks = topics.all_huts(TopicKind.ACK)
        self._client = make_client(endpoint, client_id=f"fault-observer-{topics.prefix}")
        self._client.on_connect = self._subscribe
        self._client.on_message = self._on_message
        self._client.connect_async(endpoint.host, endpoint.port)
        self._client.loop_start()

    def _subscribe(self, client: Any, *_: Any) -> None:
        client.subscribe([(self._events, 1), (self._acks, 1)])

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        with contextlib.suppress(ContractError):
            hut, kind = self._topics.parse(message.topic)
            key = self._keyring(hut)
            if kind is TopicKind.EVENTS:
                event = parse_event(message.payload, key=key)
                with self._lock:
                    self.publishes[event.id] += 1
            elif kind is TopicKind.ACK:
                batch = parse_ack(message.payload, key=key)
                with self._lock:
                    self.outcomes.update(ack.outcome.value for ack in batch.acks)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class FaultBroker:
    """The broker and who connects to it how: the one place that knows the broker's
    set-up. It is the issue's: a private Mosquitto started with the files ``toolhut server
    mqtt-auth`` writes (``write_broker_auth``: anonymous off, the generated ACL), each
    gateway with its hut's generated credentials file (hut key, broker user and password),
    both servers with the one secret file and the server's broker user (its password file,
    ``mqtt_password_file``). This run's copy of the files alone adds an observer that may
    read everything under the prefix, for the wire observer and the status watchers; it is
    no part of what the product generates. A restart is the same port and the same files."""

    def __init__(self, folder: Path, *, topics: Topics, huts: Iterable[str]) -> None:
        self._keys = TestKeys(folder / "keys")
        self._auth = folder / "broker-auth"
        write_broker_auth(self._auth, keyring=self._keys.keyring, huts=huts, topics=topics)
        self._observer_password = secrets.token_urlsafe(24)
        with open(self._auth / PASSWORD_FILE, "a") as f:
            f.write(f"{OBSERVER}:{password_hash(self._observer_password)}\n")
        with open(self._auth / ACL_FILE, "a") as f:
            f.write(f"\n# The fault run's observer (this run's copy only)\nuser {OBSERVER}\n")
            f.write(f"topic read {topics.prefix}/#\n")
        self._broker = RestartableBroker(
            auth=BrokerAuth(self._auth / PASSWORD_FILE, self._auth / ACL_FILE)
        )

    @property
    def keyring(self) -> HutKeyring:
        return self._keys.keyring

    @property
    def endpoint(self) -> MqttEndpoint:
        """Where the broker listens (no user: for the cut gateway's proxy)."""
        return self._broker.endpoint

    def server_args(self, _name: str) -> list[str]:
        """A server process's broker and secret file flags (both servers alike)."""
        return ["--mqtt", self._broker.url, "--secret-file", str(self._keys.secret_file)]

    def server_env(self, _name: str) -> dict[str, str]:
        """... and its broker password, from the file mqtt-auth wrote (user toolhut-server)."""
        return {"TOOLHUT_SERVER_MQTT_PASSWORD_FILE": str(self._auth / SERVER_PASSWORD_FILE)}

    def gateway_credentials(self, hut: str) -> Path:
        """The credentials file mqtt-auth wrote for ``hut``."""
        return self._auth / HUTS_DIR / f"{hut}.toml"

    def gateway_url(self, _hut: str, *, port: int | None = None) -> str:
        """No user in the URL: the gateway takes its own from its credentials file."""
        return MqttEndpoint("127.0.0.1", port or self._broker.port).url

    def watcher_endpoint(self) -> MqttEndpoint:
        return replace(self._broker.endpoint, username=OBSERVER, password=self._observer_password)

    def start(self) -> None:
        """Start (or start again) and make sure it is the locked-down broker."""
        self._broker.start()
        anonymous = Probe(self._broker.endpoint)
        try:
            if anonymous.connect():
                raise RuntimeError("the fault run's broker let an anonymous client in")
        finally:
            anonymous.close()

    def kill(self) -> None:
        self._broker.kill()

    def stop(self) -> None:
        self._broker.stop()


class HutRig:
    """One hut: the emulated controller (in this process, on a real pty) and its gateway."""

    def __init__(
        self,
        plan: HutPlan,
        *,
        workdir: Path,
        prefix: str,
        env: dict[str, str],
        key: HutKey,
        credentials: Path,
    ) -> None:
        self.plan = plan
        self.hut = plan.hut
        self.lines = _Lines()
        self.link = workdir / f"{plan.hut}.tty"
        self.data_dir = workdir / plan.hut
        self.prefix = prefix
        self.env = env
        self.key = key
        self.credentials = credentials
        self.mqtt_url = ""
        self.emulator = ControllerEmulator(link_path=self.link, output=self.lines, held_open_s=None)
        self.gateway: ToolhutProcess | None = None
        self.up = threading.Event()  # the gateway holds the serial port
        self.driven: list[tuple[str, str]] = []  # frames its gateway acked, in order
        self.driven_lock = threading.Lock()
        self.killed = False

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / f"{self.hut}-outbox.sqlite3"

    def start_gateway(self) -> None:
        self.gateway = ToolhutProcess(
            "gateway", "--hut", self.hut, "--serial", str(self.link), "--mqtt", self.mqtt_url,
            "--prefix", self.prefix, "--data-dir", str(self.data_dir),
            "--credentials", str(self.credentials), env=self.env,
        )  # fmt: skip
        self.gateway.expect(r"controller says hello", timeout=30)
        self.up.set()

    def kill_gateway(self) -> None:
        assert self.gateway is not None
        self.up.clear()
        self.killed = True
        self.gateway.proc.send_signal(signal.SIGKILL)
        self.gateway.proc.wait(10)

    def outbox(self) -> tuple[int, int]:
        """(events waiting, last sequence number given)."""
        if not self.outbox_path.exists():
            return 0, 0
        with closing(sqlite3.connect(f"file:{self.outbox_path}?mode=ro", uri=True)) as db:
            waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            row = db.execute("SELECT last_seq FROM counter WHERE hut = ?", (self.hut,)).fetchone()
        return int(waiting), int(row[0]) if row else 0

    def outbox_ts_span(self, after_seq: int) -> float:
        """Seconds of this gateway's clock between its waiting events numbered above
        ``after_seq`` (encrypted at rest: read through the gateway's own Outbox)."""
        outbox = Outbox(self.outbox_path, key=self.key)
        try:
            rows = outbox.pending(after=after_seq, limit=1_000_000)
        finally:
            outbox.close()
        stamps = [parse_event(row.payload, key=self.key).ts for row in rows]
        return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else 0.0

    def send(self, frame: Frame, what: tuple[str, str]) -> bool:
        """One frame to the gateway; True once its link acked it."""
        try:
            acked = self.emulator.send(frame).result(timeout=FRAME_TIMEOUT)
        except TimeoutError:
            acked = False
        if acked:
            with self.driven_lock:
                self.driven.append(what)
        return acked


class FaultRun:
    def __init__(
        self,
        *,
        seed: int,
        events: int,
        huts: int,
        workdir: Path,
        db_url: str,
        replay_url: str,
        prefix: str,
        cut_clock_s: float = 180.0,
        say: Callable[[str], None] = lambda _line: None,
    ) -> None:
        if huts < 3:
            raise ValueError("a fault run needs 3 huts at least: cut, killed, noisy")
        self.rng = random.Random(seed)
        self.seed = seed
        self.target = events
        self.plans = plan_huts(huts)
        self.workdir = workdir
        self.db_url = db_url
        self.replay_url = replay_url
        self.prefix = prefix
        self.topics = Topics(prefix)
        self.cut_clock_s = cut_clock_s
        self.say = say
        self.broker = FaultBroker(workdir, topics=self.topics, huts=[p.hut for p in self.plans])
        self.servers: dict[str, ToolhutProcess] = {}
        self.retired_servers: list[ToolhutProcess] = []
        self.rigs: list[HutRig] = []
        self.faults: list[str] = []
        self.counts = Counts()
        self._count_lock = threading.Lock()
        self._started = 0.0
        self._cut_done = threading.Event()
        self._cut_span = 0.0
        self._stop_driving = threading.Event()
        self._errors: list[str] = []

    # The three roles, by position: hut 0 is cut off, hut 1's gateway is killed, hut 2's
    # serial link is noisy.
    @property
    def cut_rig(self) -> HutRig:
        return self.rigs[0]

    @property
    def killed_rig(self) -> HutRig:
        return self.rigs[1]

    @property
    def noisy_rig(self) -> HutRig:
        return self.rigs[2]

    @property
    def keyring(self) -> HutKeyring:
        return self.broker.keyring

    def progress(self) -> float:
        return sum(len(r.driven) for r in self.rigs) / self.target

    def note(self, what: str) -> None:
        line = f"+{time.monotonic() - self._started:6.1f} s  {self.progress():4.0%}  {what}"
        self.faults.append(line)
        self.say(line)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Report:
        self._started = time.monotonic()
        furnish(self.db_url, self.plans)
        furnish(self.replay_url, self.plans)
        with ExitStack() as stack:
            self.broker.start()
            stack.callback(self.broker.stop)
            observer = WireObserver(self.broker.watcher_endpoint(), self.topics, self.keyring)
            stack.callback(observer.stop)
            for name in SERVERS:
                self.servers[name] = self._start_server(name)
            stack.callback(self._stop_servers)
            proxy = CuttableProxy(self.broker.endpoint.port)
            stack.callback(proxy.stop)
            self._start_huts(stack, proxy)
            watcher = StatusWatcher(
                self.broker.watcher_endpoint(), self.topics, self.keyring(self.noisy_rig.hut)
            )
            stack.callback(watcher.stop)
            self.say(f"stack up in {time.monotonic() - self._started:.1f} s; driving")
            drivers = [
                threading.Thread(target=self._drive, args=(rig,), name=f"drive-{rig.hut}")
                for rig in self.rigs
            ]
            faults = threading.Thread(target=self._faults, name="faults")
            cut = threading.Thread(target=self._cut, args=(proxy,), name="cut")
            for thread in (*drivers, faults, cut):
                thread.start()
            for thread in (*drivers, faults, cut):
                thread.join()
            self.say(f"driven in {time.monotonic() - self._started:.1f} s; waiting for delivery")
            self._wait_delivered()
            noisy_counters = None if watcher.latest is None else watcher.latest.counters
            for rig in self.rigs:
                assert rig.gateway is not None
                rig.gateway.stop()
                rig.emulator.stop(flush_s=0)
            taken = self._stop_servers()
            self.counts.duplicates_dropped = observer.outcomes["duplicate"]
            self.counts.queued_acks = observer.outcomes["queued"]
            self.counts.redelivered = sum(n - 1 for n in observer.publishes.values())
        problems = self._errors + self._check()
        if noisy_counters is None or noisy_counters.garbage_bytes + noisy_counters.bad_crc == 0:
            problems.append(f"the noisy hut's gateway counted no noise: {noisy_counters}")
        return Report(
            counts=self.counts,
            problems=problems,
            faults=self.faults,
            cut_clock_span_s=self._cut_span,
            wall_s=time.monotonic() - self._started,
            details={"taken": taken, "noisy_counters": noisy_counters},
        )

    def _start_server(self, name: str) -> ToolhutProcess:
        env = {
            "TOOLHUT_SERVER_SHARED_GROUP": SHARED_GROUP,
            "TOOLHUT_SERVER_REMINDERS": json.dumps({"enabled": False}),
        }
        proc = ToolhutProcess(
            "server", "--db", self.db_url, *self.broker.server_args(name),
            "--prefix", self.prefix, "--port", str(free_port()),
            env={**env, **self.broker.server_env(name)},
        )  # fmt: skip
        proc.expect(r"subscribed to \$share/", timeout=60)
        return proc

    def _stop_servers(self) -> dict[str, Any]:
        taken: dict[str, Any] = {}
        for name, proc in list(self.servers.items()):
            proc.stop()
            with contextlib.suppress(AssertionError):
                taken[name] = stop_line(proc)
        self.servers.clear()
        return taken

    def _start_huts(self, stack: ExitStack, proxy: CuttableProxy) -> None:
        for n, plan in enumerate(self.plans):
            env = {**FAST_GATEWAY_ENV, "TOOLHUT_GATEWAY_RESEND_AFTER_S": "10"}
            if n == 0:
                env[CLOCK_ENV] = f"rate={CLOCK_RATE} behind_s={CLOCK_BEHIND_S}"
            rig = HutRig(
                plan,
                workdir=self.workdir,
                prefix=self.prefix,
                env=env,
                key=self.keyring(plan.hut),
                credentials=self.broker.gateway_credentials(plan.hut),
            )
            rig.mqtt_url = self.broker.gateway_url(plan.hut, port=proxy.port if n == 0 else None)
            rig.emulator.start()
            stack.callback(rig.emulator.stop, flush_s=0)
            self.rigs.append(rig)
        for rig in self.rigs:
            rig.start_gateway()
            stack.callback(self._stop_gateway, rig)
        watchers = [
            StatusWatcher(self.broker.watcher_endpoint(), self.topics, self.keyring(r.hut))
            for r in self.rigs
        ]
        try:
            for rig, watcher in zip(self.rigs, watchers, strict=True):
                poll_until(
                    lambda w=watcher: w.latest is not None and w.latest.allowlist is not None,
                    timeout=60,
                    what=f"an allowlist at {rig.hut}",
                )
        finally:
            for watcher in watchers:
                watcher.stop()

    def _stop_gateway(self, rig: HutRig) -> None:
        if rig.gateway is not None:
            rig.gateway.stop()

    # -- the drivers -----------------------------------------------------------------------

    def _drive(self, rig: HutRig) -> None:
        rng = random.Random(f"{self.seed}-{rig.hut}")
        quota = self.target // len(self.rigs)
        tags = list(rig.plan.items)
        try:
            while not self._stop_driving.is_set():
                if len(rig.driven) >= quota and (
                    rig is not self.cut_rig or self._cut_done.is_set()
                ):
                    return
                self._visit(
                    rig, rng, rng.choice(rig.plan.cards), rng.sample(tags, rng.randint(1, 3))
                )
        except Exception as exc:  # noqa: BLE001  reported, and the run stops
            self._errors.append(f"driver of {rig.hut} failed: {exc!r}")
            self._stop_driving.set()

    def _visit(self, rig: HutRig, rng: random.Random, card: str, tags: list[str]) -> None:
        # A visit broken off with the door open (its gateway went away): the door is shut
        # before anyone opens it again, as a real reed switch only reports moves.
        shut = (DoorChanged(open=False), ("door", "closed"))
        if rig.emulator.door_open and not self._step(rig, rng, *shut):
            return
        unlocks = rig.lines.count("recv unlock")
        steps: list[tuple[Frame, tuple[str, str]]] = [
            (CardRead(bytes.fromhex(card)), ("card", card))
        ]
        if not self._step(rig, rng, *steps[0]):
            return
        if not rig.lines.wait_more("recv unlock", unlocks, FRAME_TIMEOUT):
            return  # denied: the gateway had no list yet, or went away
        steps = [(DoorChanged(open=True), ("door", "open"))]
        steps += [(QrScan(tag), ("scan", tag)) for tag in tags]
        steps.append((DoorChanged(open=False), ("door", "closed")))
        for frame, what in steps:
            beeps = rig.lines.count("recv feedback")
            if not self._step(rig, rng, frame, what):
                return
            if isinstance(frame, QrScan):
                # A resident waits for the beep; with the hut offline there is none, and
                # they go on after a moment (this paces the huts by the servers, online).
                rig.lines.wait_more("recv feedback", beeps, FEEDBACK_WAIT_S)

    def _step(self, rig: HutRig, rng: random.Random, frame: Frame, what: tuple[str, str]) -> bool:
        if rig is self.noisy_rig and rng.random() < 0.3:
            noise = rng.randbytes(rng.randint(1, 48))
            rig.emulator.inject(noise)
            with self._count_lock:
                self.counts.noise_bytes += len(noise)
        if rig.send(frame, what):
            return True
        with self._count_lock:
            self.counts.frames_given_up += 1
        # Its gateway is down (killed): wait until the new one holds the port.
        if not rig.up.wait(60):
            raise AssertionError(f"{rig.hut}: a frame was not acked and no gateway came back")
        return False

    # -- the faults ------------------------------------------------------------------------

    def _at(self, fraction: float) -> bool:
        """Wait until that share of the events was driven; False if driving stopped."""
        while self.progress() < fraction:
            if self._stop_driving.is_set() or self._all_drivers_done():
                return False
            time.sleep(0.02)
        return True

    def _all_drivers_done(self) -> bool:
        quota = self.target // len(self.rigs)
        return all(len(r.driven) >= quota for r in self.rigs if r is not self.cut_rig)

    def _faults(self) -> None:
        try:
            self._run_faults()
        except Exception as exc:  # noqa: BLE001  reported, and the run stops
            self._errors.append(f"fault schedule failed: {exc!r}")
            self._stop_driving.set()

    def _run_faults(self) -> None:
        rng = self.rng
        if self._at(rng.uniform(0.10, 0.18)):
            self.broker.kill()
            self.note("broker SIGKILLed")
            # Down until every hut (but the cut one) has recorded events with no broker.
            waiting = {r.hut: r.outbox()[0] for r in self.rigs}
            self._until(
                lambda: (
                    all(r.outbox()[0] >= waiting[r.hut] + 5 for r in self.rigs[1:])
                    or self._all_drivers_done()
                ),
                "every hut recording offline",
            )
            self.broker.start()
            self.note("broker restarted (empty: no retained lists, no sessions)")
        if self._at(rng.uniform(0.35, 0.45)):
            victim = rng.choice(SERVERS)
            proc = self.servers[victim]
            stored = self._stored()
            proc.proc.send_signal(signal.SIGKILL)
            proc.proc.wait(10)
            self.retired_servers.append(proc)
            self.note(f"server {victim} SIGKILLed")
            # Down until the other one has taken on the huts' events alone for a while.
            self._until(
                lambda: self._stored() >= stored + 50 or self._all_drivers_done(),
                "the other server applying events alone",
            )
            self.servers[victim] = self._start_server(victim)
            self.note(f"server {victim} restarted")
        rig = self.killed_rig
        if self._at(0.0) and self._rig_at(rig, rng.uniform(0.55, 0.70)):
            rig.kill_gateway()
            self.note(f"gateway of {rig.hut} SIGKILLed")
            rig.start_gateway()
            self.note(f"gateway of {rig.hut} restarted")

    def _rig_at(self, rig: HutRig, fraction: float) -> bool:
        quota = self.target // len(self.rigs)
        while len(rig.driven) < fraction * quota:
            if self._stop_driving.is_set():
                return False
            time.sleep(0.02)
        return True

    def _until(self, condition: Callable[[], bool], what: str) -> None:
        poll_until(lambda: condition() or self._stop_driving.is_set(), timeout=120, what=what)

    def _stored(self) -> int:
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as session:
                return int(session.scalar(select(func.count()).select_from(EventRecord)) or 0)
        finally:
            engine.dispose()

    def _cut(self, proxy: CuttableProxy) -> None:
        rig = self.cut_rig
        try:
            if not self._at(self.rng.uniform(0.20, 0.30)):
                return
            _, before = rig.outbox()
            proxy.cut()
            self.note(f"gateway of {rig.hut} cut off the network")
            # Until its hut has worked offline for minutes of its clock.
            poll_until(
                lambda: rig.outbox_ts_span(before) >= self.cut_clock_s,
                timeout=600,
                what=f"{self.cut_clock_s:.0f} s of {rig.hut}'s clock offline",
            )
            self._cut_span = rig.outbox_ts_span(before)
            proxy.restore()
            self.note(
                f"gateway of {rig.hut} back on the network; offline for "
                f"{self._cut_span / 60:.1f} min of its clock, {rig.outbox()[0]} events waiting"
            )
        except Exception as exc:  # noqa: BLE001  reported, and the run stops
            self._errors.append(f"cut failed: {exc!r}")
            self._stop_driving.set()
        finally:
            proxy.restore()
            self._cut_done.set()

    # -- afterwards ------------------------------------------------------------------------

    def _wait_delivered(self, timeout: float = 300.0) -> None:
        engine = make_engine(self.db_url)
        try:

            def delivered() -> bool:
                if any(r.outbox()[0] for r in self.rigs):
                    return False
                with Session(engine) as session:
                    held = session.scalar(select(func.coalesce(func.sum(HutSequence.held), 0)))
                    stored = session.scalar(select(func.count()).select_from(EventRecord))
                return held == 0 and stored == sum(r.outbox()[1] for r in self.rigs)

            poll_until(delivered, timeout=timeout, what="every outbox empty and every event stored")
        finally:
            engine.dispose()

    def _check(self) -> list[str]:
        problems: list[str] = []
        engine = make_engine(self.db_url)
        try:
            with Session(engine) as session:
                rows = session.execute(
                    select(
                        EventRecord.hut_id,
                        EventRecord.seq,
                        EventRecord.outcome,
                        EventRecord.payload,
                    ).order_by(EventRecord.hut_id, EventRecord.seq)
                ).all()
                gaps = session.scalar(select(func.count()).select_from(SequenceGap))
                dead = session.scalar(select(func.count()).select_from(RejectedMessage))
        finally:
            engine.dispose()
        outcomes = Counter(outcome for _, _, outcome, _ in rows)
        self.counts.applied = outcomes["applied"]
        self.counts.rejected = outcomes["rejected"]
        self.counts.dead_lettered = int(dead or 0)
        self.counts.sent = sum(r.outbox()[1] for r in self.rigs)
        self.counts.driven = sum(len(r.driven) for r in self.rigs)
        if set(outcomes) - {"applied", "rejected"}:
            problems.append(f"events not final: {dict(outcomes)}")
        if gaps:
            problems.append(f"{gaps} sequence gaps or resets recorded")
        for rig in self.rigs:
            seqs = [seq for hut, seq, _, _ in rows if hut == rig.hut]
            last = rig.outbox()[1]
            if seqs != list(range(1, last + 1)):
                missing = sorted(set(range(1, last + 1)) - set(seqs))
                twice = sorted(s for s, n in Counter(seqs).items() if n > 1)
                problems.append(
                    f"{rig.hut}: {len(seqs)} events stored for seqs 1..{last}; "
                    f"missing {missing[:10]}, twice {twice[:10]}"
                )
            whats = (_what(p) for hut, _, _, p in rows if hut == rig.hut)
            stored = [w for w in whats if w is not None]
            if not _is_subsequence(rig.driven, stored):
                problems.append(
                    f"{rig.hut}: a frame its gateway acked on the serial link is not in the "
                    f"ledger ({len(rig.driven)} acked, {len(stored)} stored)"
                )
            elif not rig.killed and rig.driven != stored:
                problems.append(f"{rig.hut}: the ledger holds events nobody drove")
        twice_out = items_on_two_open_loans(self.db_url)
        if twice_out:
            problems.append(f"items on two open loans: {dict(twice_out)}")
        replayed = replay(self.db_url, self.replay_url)
        live, again = ledger_snapshot(self.db_url), ledger_snapshot(self.replay_url)
        for part in live:
            if live[part] != again[part]:
                only_live = [r for r in live[part] if r not in again[part]][:5]
                only_again = [r for r in again[part] if r not in live[part]][:5]
                problems.append(
                    f"ledger and replay of {replayed} events differ in {part}: "
                    f"only live {only_live}, only replayed {only_again}"
                )
        if self._cut_span < self.cut_clock_s:
            problems.append(f"the cut lasted {self._cut_span:.0f} s of the hut's clock only")
        return problems


def _what(payload: dict[str, Any]) -> tuple[str, str] | None:
    """A stored card, door or scan event as the driver wrote it; None for the others."""
    kind = payload.get("type")
    if kind == "card":
        return "card", str(payload["card"])
    if kind == "door":
        return "door", str(payload["state"])
    if kind == "scan":
        return "scan", str(payload["text"])
    return None


def _is_subsequence(part: list[tuple[str, str]], whole: list[tuple[str, str]]) -> bool:
    it: Iterator[tuple[str, str]] = iter(whole)
    return all(any(x == y for y in it) for x in part)
