"""How fast a hut gateway's outbox drains after an outage, as a ratio to the broker's own
QoS-1 rate taken in the same run.

The gateway (real Gateway, emulated controller on a pseudo-terminal) runs while neither the
broker nor the server can be reached, and records N events of ordinary hut visits (card,
door open, two scans, door close). Then a private Mosquitto (TCP_NODELAY) comes up on the
port the gateway keeps trying, and the real server with it, as deployed: ``toolhut
server``, a process of its own (gateway and server do not share a GIL, as on a hut's Pi
and the server's machine), on a new SQLite file or a new schema of the machine's
PostgreSQL; the clock runs from the moment both the gateway and the server are connected
(the server has said it is subscribed) until the outbox is empty and every event is in
the ledger. The floor, first in each run: the same number of events of the same
kind (sealed, the same size) from a plain paho publisher to a plain paho subscriber
(harness.broker_floors.qos1_rate).

    python bench/outbox_drain.py [--events 10000] [--window 500] [--only sqlite|postgresql]
                                 [--server real|stub] [--runs 3] [--quick]

``--server stub`` puts a bare MQTT client in the server's place that acks each burst of
events at once, without a database: what the gateway and the broker can do on their own
(the stub runs in this process, beside the gateway: a bare client, no ledger).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _district_servers import ServerProcess
from harness import BenchRun, Floor, Measure, parser, ratio_at_least, repeat
from harness.broker_floors import QOS1_RATE, qos1_rate
from harness.services import databases, private_broker, scratch_db

from firmware_bridge.emulator import ControllerEmulator
from hut_gateway.gateway import Gateway
from hut_gateway.settings import GatewaySettings
from toolhut.contract import (
    DEFAULT_PREFIX,
    CardDecision,
    CardEvent,
    DoorEvent,
    DoorState,
    ScanEvent,
    new_id,
    utc_now,
)
from toolhut.hut_keys import HutCredentials, HutKey, HutKeyring, new_secret_file
from toolhut.mqtt import MqttEndpoint
from toolhut_cli.embedded_broker import free_port
from toolhut_cli.mosquitto import MosquittoProcess, mosquitto_binary

HUT = "drain-hut"
CARD = "04A1B2C3"  # seeded resident
TAGS = [f"T000{i}" for i in range(1, 10)]


def visit_events(visit: int) -> list[Any]:
    """Builders for one visit: the card, the door, borrow one tag and bring one back."""
    session = new_id()
    tag = TAGS[visit % len(TAGS)]

    def envelope(seq: int) -> dict[str, Any]:
        return {"id": new_id(), "hut": HUT, "seq": seq, "ts": utc_now(), "session": session}

    return [
        lambda s: CardEvent(**envelope(s), card=CARD, decision=CardDecision.UNLOCKED),
        lambda s: DoorEvent(**envelope(s), state=DoorState.OPEN),
        lambda s: ScanEvent(**envelope(s), card=CARD, text=tag),  # borrow ...
        lambda s: ScanEvent(**envelope(s), card=CARD, text=tag),  # ... and back at once
        lambda s: DoorEvent(**envelope(s), state=DoorState.CLOSED),
    ]


def fill(gateway: Gateway, n: int) -> None:
    made = 0
    visit = 0
    while made < n:
        for build in visit_events(visit)[: n - made]:
            gateway.outbox.append(build)
            made += 1
        visit += 1


def ledger_count(engine: Any) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())


class StubServer:
    """Acks every event it receives, in bursts like the real ingest worker, no database."""

    def __init__(self, endpoint: Any, key: HutKey) -> None:
        import queue
        import threading

        from toolhut.contract import AckBatch, EventAck, Outcome, Topics, parse_event
        from toolhut.mqtt import make_client

        self._queue: queue.Queue[bytes] = queue.Queue()
        self._topics = Topics()
        self._ack = lambda events: AckBatch(
            hut=HUT, acks=[EventAck(id=e.id, seq=e.seq, outcome=Outcome.APPLIED) for e in events]
        ).sealed(key)
        self._parse = lambda payload: parse_event(payload, key=key)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self.client = make_client(endpoint, client_id="drain-stub-server")
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self._queue.put(bytes(m.payload))
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_connect(self, client: Any, *_: Any) -> None:
        client.subscribe(self._topics.events(HUT), qos=1)
        self._connected.set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _run(self) -> None:
        import queue

        while not self._stop.is_set():
            try:
                batch = [self._queue.get(timeout=0.1)]
            except queue.Empty:
                continue
            while len(batch) < 200:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            events = [self._parse(p) for p in batch]
            self.client.publish(self._topics.ack(HUT), self._ack(events), qos=1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.client.disconnect()
        self.client.loop_stop()


def floor_pool(events: int, key: HutKey) -> list[tuple[str, bytes]]:
    """The floor's payloads: as many events of the same visits, sealed with the hut's key
    (the outbox's events on the wire are these, the same size)."""
    pool: list[tuple[str, bytes]] = []
    visit = 0
    while len(pool) < events:
        for build in visit_events(visit):
            pool.append((HUT, build(len(pool) + 1).sealed(key)))
        visit += 1
    return pool[:events]


def _server(db_url: str, endpoint: MqttEndpoint, secret_file: Path) -> ServerProcess:
    """``toolhut server`` on ``db_url`` and the broker, subscribed to the events (its
    reminder sweeps out of the way: one an hour)."""
    changed = threading.Condition()
    server = ServerProcess(
        "drain", db_url=db_url, mqtt_url=endpoint.url, prefix=DEFAULT_PREFIX,
        secret_file=secret_file,
        reminder_interval_s=3600, patterns={"subscribed": "ingest worker subscribed"},
        changed=changed, group=None,
    )  # fmt: skip
    try:
        server.wait_for("subscribed", 1, timeout=60)
    except BaseException:
        server.stop()
        raise
    return server


def run(events: int, db_url: str, window: int, *, stub: bool = False) -> dict[str, float]:
    from server.seed import seed_demo
    from server.storage import make_engine, migrate

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="toolhut-drain-") as tmp:
        migrate(db_url)
        engine = make_engine(db_url)
        seed_demo(engine, hut_id=HUT)
        before = ledger_count(engine)

        secret_file = Path(tmp) / "server-secret"
        key = HutKeyring(new_secret_file(secret_file))(HUT)
        with private_broker() as floor_broker:
            floor = qos1_rate(floor_broker, floor_pool(events, key))
        emulator = ControllerEmulator(output=lambda line: None)
        emulator.start()
        gateway = Gateway(
            credentials=HutCredentials(HUT, key.key),
            settings=GatewaySettings(
                hut=HUT,
                serial=emulator.device_path,
                mqtt_url=f"mqtt://127.0.0.1:{port}",  # nobody there yet
                data_dir=Path(tmp) / "gateway",
                drain_window=window,
                reconnect_min_s=0.5,
                reconnect_max_s=1.0,
                resend_after_s=5.0,
            ),
        )
        gateway.start()
        broker = MosquittoProcess(mosquitto_binary() or "mosquitto", port=port)
        server: Any = None
        try:
            t0 = time.perf_counter()
            fill(gateway, events)
            fill_s = time.perf_counter() - t0
            depth = gateway.outbox.depth()
            print(f"outbox filled: {depth} events in {fill_s:.1f} s (broker and server down)")

            broker.start()
            if stub:
                server = StubServer(broker.endpoint, key)
                connected = server.wait_connected(15)
            else:
                server = _server(db_url, broker.endpoint, secret_file)
                connected = True
            if not connected:
                raise RuntimeError("server did not reach the broker")
            if not gateway.uplink.wait_connected(15):
                raise RuntimeError("gateway did not reach the broker")
            start = time.perf_counter()
            while gateway.outbox.depth() > 0:
                if time.perf_counter() - start > 600:
                    raise RuntimeError(f"drain stalled at {gateway.outbox.depth()} events")
                time.sleep(0.01)  # polling the outbox's depth: the clock stops on the evidence
            drain_s = time.perf_counter() - start
            applied = ledger_count(engine) - before
            if not stub and applied < depth:
                raise RuntimeError(f"drained {depth} events but only {applied} are in the ledger")
            return {
                "floor": floor,
                "rate": depth / drain_s,
                "events": depth,
                "drain_s": drain_s,
                "fill_s": fill_s,
                "applied": applied,
                "resent": gateway.uplink.resent,
            }
        finally:
            gateway.stop()
            emulator.stop()
            if server is not None:
                server.stop()
            broker.stop()
            engine.dispose()


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def main() -> int:
    p = parser(__doc__, runs=3)
    p.add_argument("--events", type=int, default=None, help="default 10,000; quick 300")
    p.add_argument("--window", type=int, default=500, help="gateway drain_window")
    p.add_argument("--server", choices=["real", "stub"], default="real")
    p.add_argument("--only", choices=list(NAMES), default=None)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run_ = BenchRun("outbox_drain", args)
    events = args.events or (300 if run_.quick else 10_000)
    stub = args.server == "stub"
    kinds = ["sqlite"] if stub else databases(args.only)  # the stub has no database
    for kind in kinds:

        def one(_i: int, kind: str = kind) -> dict[str, float]:
            with scratch_db(kind, name="drain") as url:
                return run(events, url, args.window, stub=stub)

        runs = repeat(run_.runs, one)
        server = "a stub server (no database)" if stub else f"the server on {NAMES[kind]}"
        run_.add(
            Measure(
                f"outbox drain after a {events:,}-event outage, {server}",
                "events/s",
                runs["rate"],
                floor=Floor(
                    f"{QOS1_RATE}, as many events of the same size",
                    "events/s",
                    runs["floor"],
                ),
                target=None if stub else ratio_at_least(0.5, "≥ 50 % of the broker's QoS-1 rate"),
                details={k: runs[k] for k in ("events", "drain_s", "fill_s", "applied", "resent")}
                | {"window": args.window},
            )
        )
    return run_.finish()


if __name__ == "__main__":
    raise SystemExit(main())
