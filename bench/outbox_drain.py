"""How fast a hut gateway's outbox drains after an outage.

The gateway (real Gateway, emulated controller on a pseudo-terminal) runs while neither the
broker nor the server can be reached, and records N events of ordinary hut visits (card,
door open, two scans, door close). Then a private Mosquitto (TCP_NODELAY) comes up on the
port the gateway keeps trying, and the real server (ServerRuntime) with it; the clock runs
from the moment both the gateway and the server are connected until the outbox is empty
and every event is in the ledger.

    python bench/outbox_drain.py [--events 10000] [--db postgresql+psycopg://...]
    python bench/outbox_drain.py --server stub   # the gateway's own ceiling

``--server stub`` puts a bare MQTT client in the server's place that acks each burst of
events at once, without a database: what the gateway and the broker can do on their own.

Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from firmware_bridge.emulator import ControllerEmulator
from hut_gateway.gateway import Gateway
from hut_gateway.settings import GatewaySettings
from toolhut.contract import (
    CardDecision,
    CardEvent,
    DoorEvent,
    DoorState,
    ScanEvent,
    new_id,
    utc_now,
)
from toolhut.hut_keys import HutCredentials, HutKey, HutKeyring, new_secret_file
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


def run(events: int, db_url: str | None, window: int, *, stub: bool = False) -> dict[str, float]:
    from server.app import ServerRuntime
    from server.seed import seed_demo
    from server.settings import ServerSettings
    from server.storage import make_engine, migrate

    binary = mosquitto_binary()
    if binary is None:
        raise SystemExit("needs the mosquitto binary")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="toolhut-drain-") as tmp:
        db = db_url or f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        migrate(db)
        engine = make_engine(db)
        seed_demo(engine, hut_id=HUT)
        before = ledger_count(engine)

        secret_file = Path(tmp) / "server-secret"
        key = HutKeyring(new_secret_file(secret_file))(HUT)
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
        broker = MosquittoProcess(binary, port=port)
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
                server = ServerRuntime(
                    ServerSettings(
                        db_url=db, mqtt_url=broker.endpoint.url, port=0,
                        secret_file=secret_file,
                    )
                )  # fmt: skip
                server.start()
                connected = server.ingest.wait_connected(15)
            if not connected:
                raise SystemExit("server did not reach the broker")
            if not gateway.uplink.wait_connected(15):
                raise SystemExit("gateway did not reach the broker")
            start = time.perf_counter()
            while gateway.outbox.depth() > 0:
                if time.perf_counter() - start > 600:
                    raise SystemExit(f"drain stalled at {gateway.outbox.depth()} events")
                time.sleep(0.01)
            drain_s = time.perf_counter() - start
            applied = ledger_count(engine) - before
            return {
                "events": depth,
                "drain_s": drain_s,
                "rate": depth / drain_s,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=500, help="gateway drain_window")
    parser.add_argument("--server", choices=["real", "stub"], default="real")
    parser.add_argument(
        "--db", help="server database URL (default: a fresh SQLite file); PostgreSQL: "
        "an empty database, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = run(args.events, args.db, args.window, stub=args.server == "stub")
    print(
        f"drained {result['events']:.0f} events in {result['drain_s']:.2f} s: "
        f"{result['rate']:.0f} events/s; {result['applied']:.0f} new ledger rows; "
        f"{result['resent']:.0f} resent (window {args.window}, {args.server} server)"
    )


if __name__ == "__main__":
    main()
