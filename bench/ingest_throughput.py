"""Sustained ingest: gateway publish -> server commit -> AckBatch back, QoS 1, as a ratio
to the bare broker measured in the same run.

A load process plays many gateways at once: it publishes a realistic mix (card tap, door
open, borrow, return, door close per visit; many huts) and keeps at most ``--window``
events out unacked, as gateways do (they drain through a window paced by the server's
acks). The server's real IngestWorker runs in this process on SQLite or PostgreSQL.
The floor: the same load process publishes the same payloads at QoS 1 to a bare paho
subscriber (no database, no acks).

    python bench/ingest_throughput.py [--events 20000] [--huts 20] [--db postgresql://...]

Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _scratch
from _scratch import card_uid, hut_id, scratch_db, tag
from sqlalchemy import select

from server.ingest import IngestWorker
from server.settings import ServerSettings
from server.storage import make_engine, make_sessionmaker
from server.storage.migrate import migrate_engine
from server.storage.models import Hut
from toolhut.contract import (
    CardDecision,
    CardEvent,
    DoorEvent,
    DoorState,
    ScanEvent,
    TopicKind,
    Topics,
    new_id,
    parse_ack,
)
from toolhut.hut_keys import SECRET_BYTES, HutKeyring
from toolhut.mqtt import MqttEndpoint, make_client
from toolhut_cli.mosquitto import MosquittoProcess, mosquitto_binary

PREFIX = "bench"
# The bench's own server secret, handed to the load process: the events go out sealed with
# each hut's key, as gateways send them, and the server checks every one.
SECRET = secrets.token_bytes(SECRET_BYTES)
TS = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def build_events(events: int, huts: int) -> list[tuple[str, bytes]]:
    """(hut, payload) in publishing order: the huts' visits interleaved, each hut in seq order."""
    per_hut = events // huts
    streams: list[list[bytes]] = []
    for h in range(huts):
        hut, card, stream = hut_id(h), card_uid(h), []
        seq = 0
        visit = 0
        while len(stream) < per_hut:
            door_key = f"s{visit}"  # the door session on the wire
            item = tag(h, visit % 20)

            def env(n: int, hut: str = hut, door_key: str = door_key) -> dict[str, Any]:
                return {"id": new_id(), "hut": hut, "seq": n, "ts": TS + timedelta(seconds=n),
                        "session": door_key}  # fmt: skip

            models = [
                CardEvent(**env(seq + 1), card=card, decision=CardDecision.UNLOCKED),
                DoorEvent(**env(seq + 2), state=DoorState.OPEN),
                ScanEvent(**env(seq + 3), text=item, card=card),  # borrow
                ScanEvent(**env(seq + 4), text=item, card=card),  # and back
                DoorEvent(**env(seq + 5), state=DoorState.CLOSED),
            ]
            key = HutKeyring(SECRET)(hut)
            stream.extend(m.sealed(key) for m in models)
            seq += 5
            visit += 1
        streams.append(stream[:per_hut])
    return [(hut_id(h), streams[h][i]) for i in range(per_hut) for h in range(huts)]


def seed(db_url: str, huts: int) -> Any:
    engine = make_engine(db_url)
    migrate_engine(engine)
    with make_sessionmaker(engine).begin() as db:
        if db.scalars(select(Hut)).first() is None:
            _scratch.seed(db, huts)
    return engine


def load(
    url: str, events: list[tuple[str, bytes]], window: int, acked: bool, out: Any, secret: bytes
) -> None:
    """The gateways' side, in a process of its own: publish, keep ``window`` out."""
    topics = Topics(PREFIX)
    keyring = HutKeyring(secret)
    client = make_client(MqttEndpoint.parse(url), client_id=f"load-{new_id()[:8]}")
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    room = threading.Semaphore(window)
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        hut, _ = topics.parse(message.topic)
        n = len(parse_ack(message.payload, key=keyring(hut)).acks)
        for _ in range(n):
            room.release()
        with lock:
            count[0] += n
            if count[0] >= len(events):
                done.set()

    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(MqttEndpoint.parse(url).host, MqttEndpoint.parse(url).port)
    client.loop_start()
    client.subscribe(topics.all_huts(TopicKind.ACK), qos=1)
    subscribed.wait(10)
    started = time.perf_counter()
    infos = []
    for hut, payload in events:
        if acked:
            room.acquire()
        infos.append(client.publish(topics.events(hut), payload, qos=1))
    if acked:
        done.wait(600)
    else:
        for info in infos:
            info.wait_for_publish(60)
    out.put(time.perf_counter() - started)
    client.disconnect()
    client.loop_stop()


def floor(url: str, events: list[tuple[str, bytes]], window: int) -> float:
    topics = Topics(PREFIX)
    endpoint = MqttEndpoint.parse(url)
    got = [0]
    first: list[float] = []
    done = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        if not first:
            first.append(time.perf_counter())
        got[0] += 1
        if got[0] >= len(events):
            done.set()

    sub = make_client(endpoint, client_id="floor-sub")
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(endpoint.host, endpoint.port)
    sub.loop_start()
    sub.subscribe(topics.all_huts(TopicKind.EVENTS), qos=1)
    subscribed.wait(10)
    out: Any = mp.Queue()
    proc = mp.Process(target=load, args=(url, events, window, False, out, SECRET))
    started = time.perf_counter()
    proc.start()
    done.wait(300)
    elapsed = time.perf_counter() - (first[0] if first else started)
    proc.join(60)
    sub.disconnect()
    sub.loop_stop()
    if got[0] < len(events):
        print(f"floor: only {got[0]} of {len(events)} arrived")
    return len(events) / elapsed


def ingest(url: str, db_url: str, events: list[tuple[str, bytes]], huts: int, window: int) -> float:
    engine = seed(db_url, huts)
    settings = ServerSettings(db_url=db_url, mqtt_url=url, topic_prefix=PREFIX)
    worker = IngestWorker(settings, sessions=make_sessionmaker(engine), keyring=HutKeyring(SECRET))
    worker.start()
    assert worker.wait_connected(10)
    time.sleep(1.0)  # allowlists and sync out of the way
    out: Any = mp.Queue()
    proc = mp.Process(target=load, args=(url, events, window, True, out, SECRET))
    proc.start()
    elapsed = out.get(timeout=900)
    proc.join(60)
    worker.stop()
    engine.dispose()
    return len(events) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--huts", type=int, default=20)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--db", default=None, help="database URL (default: a new SQLite file)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    binary = mosquitto_binary()
    if binary is None:
        raise SystemExit("mosquitto is not installed")
    broker = MosquittoProcess(binary)
    url = broker.start().url
    try:
        events = build_events(args.events, args.huts)
        raw = floor(url, events, args.window)
        with tempfile.TemporaryDirectory() as tmp, scratch_db(args.db, Path(tmp)) as db_url:
            rate = ingest(url, db_url, events, args.huts, args.window)
    finally:
        broker.stop()
    kind = "postgresql" if (args.db or "").startswith("postgres") else "sqlite"
    print(f"events {len(events)} huts {args.huts} window {args.window}")
    print(f"bare broker, paho -> paho QoS 1      {raw:9.0f} msg/s")
    print(f"ingest on {kind:<10} publish->ack     {rate:9.0f} msg/s  = {rate / raw:.0%} of bare")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
