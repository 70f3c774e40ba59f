"""Sustained ingest: gateway publish -> server commit -> AckBatch back, QoS 1, as a ratio to
the broker's own QoS-1 rate and to a batched pipeline, all three in the same run.

A load process plays many gateways at once: it publishes a realistic mix (card tap, door
open, borrow, return, door close per visit; ``--huts`` huts, each hut's events in seq
order, sealed with its key) for ``--seconds``, keeping at most ``--window`` events not
yet acked by the server, as gateways drain through a window paced by the server's acks.
The server's real IngestWorker runs in this process on a new SQLite file or a new schema
of the machine's PostgreSQL. Each run, on each database, in this order:

1. floor: the broker's QoS-1 rate, the same load process and payloads to a plain paho
   subscriber, paho's default in-flight window (harness.broker_floors.qos1_rate);
2. the batched pipeline on the same kind of database (harness.pipeline): what an ingest
   that commits a batch per transaction, then acks, reaches with no rules at all;
3. the product: one ingest worker, in this process;
4. on PostgreSQL, the product as a district runs it: two ingest workers, this process's
   and a forked one's, on one shared subscription (``shared_group``), each with its own
   connections. A hut's events are then split between them: one that arrives before
   its predecessor is held (acked ``queued``) and applied, and acked again, once the gap
   fills. An event counts once, at its final ack. Not on SQLite, which lets one
   connection write at a time: there a second process made ingest slower (3,424 against
   3,987 events/s in one trial, 3 processes 2,963).

    python bench/ingest_throughput.py [--seconds 60] [--huts 20] [--window 1000]
                                      [--only sqlite|postgresql] [--runs 3] [--quick]
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import _scratch
from _scratch import card_uid, hut_id, tag
from harness import BenchRun, Floor, Measure, parser, ratio_at_least, repeat
from harness.broker_floors import QOS1_RATE, qos1_rate, wait_retained
from harness.child import Child
from harness.load import LoadResult, Pool, drive
from harness.pipeline import BatchedPipeline, acked_count
from harness.services import databases, private_broker, scratch_db
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
    Outcome,
    ScanEvent,
    TopicKind,
    Topics,
    new_id,
    parse_ack,
)
from toolhut.hut_keys import SECRET_BYTES, HutKeyring
from toolhut.mqtt import MqttEndpoint

PREFIX = "bench"
# The bench's own server secret: the events go out sealed with each hut's key, as gateways
# send them, and the server checks every one.
SECRET = secrets.token_bytes(SECRET_BYTES)
KEYRING = HutKeyring(SECRET)
TS = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
TARGETS = {"sqlite": 0.50, "postgresql": 0.40}  # of the broker's QoS-1 rate (issue 15)
SHARED = {"postgresql": 2}  # server processes on one shared subscription, as a district's
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass(frozen=True, slots=True)
class Mode:
    seconds: float  # the product and the pipeline, each run
    floor_seconds: float  # the broker floor (no state that grows: a shorter run is enough)


FULL = Mode(seconds=60, floor_seconds=20)
QUICK = Mode(seconds=2.5, floor_seconds=1.5)


def build_events(events: int, huts: int) -> list[tuple[str, bytes]]:
    """(hut, payload) in publishing order: the huts' visits interleaved, each hut in seq order."""
    per_hut = events // huts
    streams: list[list[bytes]] = []
    for h in range(huts):
        hut, card = hut_id(h), card_uid(h)
        stream: list[bytes] = []
        key = KEYRING(hut)
        seq = 0
        visit = 0
        while len(stream) < per_hut:
            door_key = f"s{visit}"  # the door session on the wire
            item = tag(h, visit % _scratch.ITEMS_PER_HUT)

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
            stream.extend(m.sealed(key) for m in models)
            seq += 5
            visit += 1
        streams.append(stream[:per_hut])
    return [(hut_id(h), streams[h][i]) for i in range(per_hut) for h in range(huts)]


def seeded(db_url: str, huts: int) -> Any:
    engine = make_engine(db_url)
    migrate_engine(engine)
    with make_sessionmaker(engine).begin() as db:
        if db.scalars(select(Hut)).first() is None:
            _scratch.seed(db, huts)
    return engine


def _product_acks(topic: str, payload: bytes) -> int:
    """How many events one of the server's AckBatches gives their final outcome (checked
    with the hut's key): an event held behind a gap is acked ``queued`` first, and counts
    at its second ack, once applied."""
    hut, _ = Topics(PREFIX).parse(topic)
    acks = parse_ack(payload, key=KEYRING(hut)).acks
    return sum(1 for ack in acks if ack.outcome is not Outcome.QUEUED)


def _load(endpoint: MqttEndpoint, pool: Pool, mode: Mode, window: int, acks: Any) -> LoadResult:
    child = Child(
        lambda: drive(
            endpoint, pool, prefix=PREFIX, seconds=mode.seconds, window=window, acks=acks
        ),
        name="bench-gateways",
    )
    return child.result(timeout=mode.seconds + 300)


def _settings(endpoint: MqttEndpoint, db_url: str, group: str | None) -> ServerSettings:
    return ServerSettings(
        db_url=db_url, mqtt_url=endpoint.url, topic_prefix=PREFIX, shared_group=group
    )


def _subscribed(worker: IngestWorker) -> None:
    if not worker.wait_subscribed(15):
        raise RuntimeError("the ingest worker did not subscribe at the broker")


class _OtherProcess:
    """A second server process's ingest worker, forked (before this process starts its
    own worker's threads) with connections and settings of its own (its own MQTT client
    id: with the first one's, each connection would take the other's over at the broker);
    it runs until ``stop``."""

    def __init__(self, endpoint: MqttEndpoint, db_url: str, group: str) -> None:
        context = mp.get_context("fork")
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=self._main, args=(endpoint, db_url, group), name="ingest-2"
        )
        self._process.start()

    def _main(self, endpoint: MqttEndpoint, db_url: str, group: str) -> None:
        settings = _settings(endpoint, db_url, group)
        engine = make_engine(db_url)
        worker = IngestWorker(settings, sessions=make_sessionmaker(engine), keyring=KEYRING)
        worker.start()
        try:
            _subscribed(worker)
            self._ready.set()
            self._stop.wait()
        finally:
            worker.stop()
            engine.dispose()

    def wait_subscribed(self) -> None:
        if not self._ready.wait(30):
            raise RuntimeError("the second process's ingest worker did not subscribe")

    def stop(self) -> None:
        self._stop.set()
        self._process.join(30)
        if self._process.exitcode != 0:
            raise RuntimeError(f"the second ingest process ended with {self._process.exitcode}")


def ingest(
    endpoint: MqttEndpoint,
    db_url: str,
    pool: Pool,
    huts: int,
    mode: Mode,
    window: int,
    *,
    processes: int = 1,
) -> LoadResult:
    engine = seeded(db_url, huts)
    group = f"bench-ingest-{new_id()[:8]}"
    others = [_OtherProcess(endpoint, db_url, group) for _ in range(processes - 1)]
    settings = _settings(endpoint, db_url, group if others else None)
    worker = IngestWorker(settings, sessions=make_sessionmaker(engine), keyring=KEYRING)
    worker.start()
    try:
        _subscribed(worker)
        for other in others:
            other.wait_subscribed()
        # Their start-up publishing (every hut's allowlist, then the sync) out of the way.
        wait_retained(endpoint, Topics(PREFIX).all_huts(TopicKind.ALLOWLIST), huts, 30)
        return _load(endpoint, pool, mode, window, _product_acks)
    finally:
        worker.stop()
        for other in others:
            other.stop()
        engine.dispose()


def pipeline(
    endpoint: MqttEndpoint, db_url: str, pool: Pool, huts: int, mode: Mode, window: int
) -> LoadResult:
    seeded(db_url, huts).dispose()
    consumer = BatchedPipeline(endpoint, db_url, prefix=PREFIX)
    try:
        result = _load(endpoint, pool, mode, window, acked_count)
    finally:
        consumer.stop()
    if consumer.failure:
        raise RuntimeError(f"the batched pipeline failed: {consumer.failure}")
    return result


def one_run(
    kind: str, endpoint: MqttEndpoint, pool: Pool, huts: int, mode: Mode, window: int
) -> dict[str, float]:
    floor = qos1_rate(endpoint, pool, seconds=mode.floor_seconds)
    with scratch_db(kind, name="ingest") as url:
        raw = pipeline(endpoint, url, pool, huts, mode, window)
    with scratch_db(kind, name="ingest") as url:
        product = ingest(endpoint, url, pool, huts, mode, window)
    figures = {
        "floor": floor,
        "pipeline": raw.rate,
        "ingest": product.rate,
        "sustained_s": product.elapsed,
        "acked": product.acked,
    }
    runs = [raw, product]
    if kind in SHARED:
        with scratch_db(kind, name="ingest") as url:
            shared = ingest(endpoint, url, pool, huts, mode, window, processes=SHARED[kind])
        figures |= {"shared": shared.rate, "shared_acked": shared.acked}
        runs.append(shared)
    if any(run.published == len(pool) for run in runs):
        print(f"the pool of {len(pool):,} events ran out: raise --pool-rate", file=sys.stderr)
    return figures


def main() -> int:
    p = parser(__doc__, runs=3)
    p.add_argument("--seconds", type=float, default=None, help="each run (default 60; quick 2.5)")
    p.add_argument("--huts", type=int, default=20)
    p.add_argument("--window", type=int, default=1000, help="events unacked, all huts together")
    p.add_argument("--only", choices=list(NAMES), default=None)
    p.add_argument(
        "--pool-rate", type=int, default=14000,  # the batched pipeline reached 9,400/s on SQLite
        help="events built per second of the longest run (the pool must not run out)",
    )  # fmt: skip
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run = BenchRun("ingest_throughput", args)
    mode = QUICK if args.quick else FULL
    if args.seconds is not None:
        mode = Mode(seconds=args.seconds, floor_seconds=min(args.seconds, mode.floor_seconds))
    size = int(max(mode.seconds, mode.floor_seconds) * args.pool_rate)
    pool = build_events(size - size % args.huts, args.huts)
    print(f"{len(pool):,} events built ({args.huts} huts), runs of {mode.seconds:g} s")
    with private_broker() as endpoint:
        for kind in databases(args.only):

            def one(_i: int, kind: str = kind) -> dict[str, float]:
                return one_run(kind, endpoint, pool, args.huts, mode, args.window)

            runs = repeat(run.runs, one)
            add_measures(run, kind, runs, mode, args)
    return run.finish()


def add_measures(
    run: BenchRun, kind: str, runs: dict[str, list[float]], mode: Mode, args: Any
) -> None:
    settings = {"huts": args.huts, "window": args.window, "seconds": mode.seconds,
                "floor_seconds": mode.floor_seconds, "sustained_s": runs["sustained_s"],
                "acked": runs["acked"]}  # fmt: skip
    name = NAMES[kind]
    broker = Floor(
        f"{QOS1_RATE}, the same payloads",
        "events/s",
        runs["floor"],
    )
    target = ratio_at_least(
        TARGETS[kind], f"≥ {TARGETS[kind] * 100:.0f} % of the broker's QoS-1 rate"
    )
    run.add(
        Measure(
            f"ingest on {name}, publish → committed → acked, {mode.seconds:g} s sustained",
            "events/s",
            runs["ingest"],
            floor=broker,
            target=target,
            details=settings,
        )
    )
    if "shared" in runs:
        processes = SHARED[kind]
        run.add(
            Measure(
                f"ingest on {name}, {processes} server processes on one shared subscription, "
                f"{mode.seconds:g} s sustained",
                "events/s",
                runs["shared"],
                floor=broker,
                target=target,
                details={**settings, "processes": processes, "acked": runs["shared_acked"]},
            )
        )
    run.add(
        Measure(
            f"ingest on {name}, against the batched pipeline",
            "events/s",
            runs["ingest"],
            floor=Floor(
                f"batched pipeline paho → Mosquitto → SQLAlchemy Core on {name}, one "
                "transaction per batch, acked after the commit",
                "events/s",
                runs["pipeline"],
            ),
            details=settings,
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
