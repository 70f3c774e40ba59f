"""The ledger's own cost per event, without the network: ``server.ledger.apply_batch`` in
its transaction (the ingest worker's: huts looked up, events applied, commit), timed.

Two loads, each on a freshly seeded database:

- single: a batch of one per transaction, as a resident at the hut sends it: card tap,
  door open, borrow scan, return scan, door close, visit after visit at one hut; the
  median time of each kind;
- batch: batches of about ``--batch`` mixed events (many huts' whole visits interleaved,
  as the ingest bench sends them); the median time per event;
- overtaken: a visit whose card tap comes last, in a second transaction, after the other
  four were held behind it (``queued``): what two server processes on a shared
  subscription often do to a hut's events; the median time per event of the visit.

For each, the SQL statements per event (an executemany counts once), the median wall and
CPU time, and the least CPU time of any sample (CPU time hides most of a loaded machine's
noise on SQLite, the least most of the rest; on PostgreSQL the server's share is missing
from it). Runs in any tree with the same
``apply_batch`` signature, so old and new compare with bench/alternate.sh:

    python bench/ledger_step.py [--db postgresql+psycopg://...] [--visits 200]
                                [--batches 8] [--batch 500] [--profile single|batch]
    bench/alternate.sh -n 3 OLD_TREE NEW_TREE "python $PWD/bench/ledger_step.py"

Default: a new SQLite file; with ``--db`` a PostgreSQL database, in a schema of its own
(created, then dropped). ``--profile`` prints the top of a cProfile of that load.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _scratch import ITEMS_PER_HUT, card_uid, hut_id, scratch_db, seed, tag
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from server import ledger
from server.ledger import apply_batch
from server.storage import make_engine, make_sessionmaker
from server.storage.migrate import migrate_engine
from server.storage.models import Hut
from server.storage.queries import get_huts
from toolhut.contract import (
    AnyEvent,
    CardDecision,
    CardEvent,
    DoorEvent,
    DoorState,
    ScanEvent,
    new_id,
)

TS = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
KINDS = ("card", "door open", "borrow", "return", "door close")


class Visits:
    """Each hut's visits (card, door open, borrow, return, door close), numbered on."""

    def __init__(self) -> None:
        self.seq: dict[int, int] = defaultdict(int)
        self.visit: dict[int, int] = defaultdict(int)

    def next(self, h: int) -> list[AnyEvent]:
        hut, card, visit = hut_id(h), card_uid(h), self.visit[h]
        self.visit[h] += 1
        item = tag(h, visit % ITEMS_PER_HUT)
        start = self.seq[h]
        self.seq[h] += 5

        def env(n: int) -> dict[str, Any]:
            seq = start + n
            return {"id": new_id(), "hut": hut, "seq": seq, "ts": TS + timedelta(seconds=seq),
                    "session": f"v{visit}"}  # fmt: skip

        return [
            CardEvent(**env(1), card=card, decision=CardDecision.UNLOCKED),
            DoorEvent(**env(2), state=DoorState.OPEN),
            ScanEvent(**env(3), text=item, card=card),
            ScanEvent(**env(4), text=item, card=card),
            DoorEvent(**env(5), state=DoorState.CLOSED),
        ]


class Meter:
    """Statements run on the engine (an executemany once), as the bench counts them."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.shown: list[str] | None = None  # the statements' text too, while a list
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements += 1
        if self.shown is not None:
            self.shown.append(" ".join(statement.split())[:400])


@dataclass(frozen=True, slots=True)
class Sample:
    wall: float
    cpu: float
    statements: int
    events: int


class Bench:
    def __init__(self, db_url: str, huts: int) -> None:
        self.engine = make_engine(db_url)
        migrate_engine(self.engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        with self.sessions.begin() as db:
            if db.scalars(select(Hut)).first() is None:
                seed(db, huts)
        self.meter = Meter(self.engine)
        self.visits = Visits()  # one numbering for the whole run, as a gateway's
        self.clock = TS + timedelta(days=1)

    def transaction(self, events: list[AnyEvent]) -> Sample:
        """The ingest worker's transaction for ``events``, timed."""
        self.clock += timedelta(seconds=1)
        before = self.meter.statements
        wall, cpu = time.perf_counter(), time.process_time()
        with self.sessions() as db, db.begin():
            huts = get_huts(db, {e.hut for e in events})
            result = apply_batch(db, events, huts=huts, received_at=self.clock)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert result.applied + result.held == len(events), (result, len(events))
        return Sample(wall, cpu, self.meter.statements - before, len(events))


def single(bench: Bench, visits: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = defaultdict(list)
    for _ in range(visits):
        for kind, e in zip(KINDS, bench.visits.next(0), strict=True):
            samples[kind].append(bench.transaction([e]))
    return samples


def batches(bench: Bench, count: int, size: int, huts: int) -> list[Sample]:
    """``count`` batches of whole visits, about ``size`` events each (a multiple of 5):
    ``huts`` huts' visits interleaved (fewer huts if the batch is small), each hut's in
    seq order, so that every event applies at once (none is held behind a gap)."""
    huts = max(1, min(huts, size // 5))
    visits = max(1, size // 5 // huts)
    out = []
    for _ in range(count):
        events = [e for h in range(huts) for _ in range(visits) for e in bench.visits.next(h)]
        events.sort(key=lambda e: (e.seq, e.hut))
        out.append(bench.transaction(events))
    return out


def overtaken(bench: Bench, visits: int) -> list[Sample]:
    """Each visit in two transactions, its last four events first (held), then its tap."""
    out = []
    for _ in range(visits):
        events = bench.visits.next(0)
        first, second = bench.transaction(events[1:]), bench.transaction(events[:1])
        out.append(
            Sample(first.wall + second.wall, first.cpu + second.cpu,
                   first.statements + second.statements, len(events))
        )  # fmt: skip
    return out


def show_sql(bench: Bench) -> None:
    """The statements of one more visit, event by event (to see where they go)."""
    for kind, e in zip(KINDS, bench.visits.next(0), strict=True):
        bench.meter.shown = []
        bench.transaction([e])
        print(f"-- {kind}: {len(bench.meter.shown)} statements")
        for text in bench.meter.shown:
            print("   ", text)
    bench.meter.shown = None


def _median(samples: list[Sample], of: Callable[[Sample], float]) -> float:
    return statistics.median(of(s) for s in samples)


def line(name: str, samples: list[Sample]) -> str:
    wall = _median(samples, lambda s: s.wall / s.events) * 1e6
    cpu = _median(samples, lambda s: s.cpu / s.events) * 1e6
    fastest = min(s.cpu / s.events for s in samples) * 1e6
    statements = sum(s.statements for s in samples) / sum(s.events for s in samples)
    return (
        f"{name:<16} {wall:8.0f} us/event wall {cpu:8.0f} us/event cpu "
        f"(min {fastest:.0f}) {statements:6.2f} statements/event ({len(samples)} samples)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument("--visits", type=int, default=200, help="single: visits (5 events each)")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500, help="events per batch")
    parser.add_argument("--huts", type=int, default=20, help="huts in a batch")
    parser.add_argument("--profile", choices=("single", "batch"), default=None)
    parser.add_argument("--sort", default="cumulative", help="--profile: pstats sort key")
    parser.add_argument("--top", type=int, default=40, help="--profile: lines shown")
    parser.add_argument("--sql", action="store_true", help="print one visit's statements")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_db(args.db, Path(tmp)) as url:
        backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        profile = cProfile.Profile() if args.profile else None
        bench = Bench(url, args.huts)
        print(f"ledger {ledger.__file__}")
        batches(bench, 1, args.batch, args.huts)  # warm up: imports, statement caches
        single(bench, 5)
        if args.sql:
            show_sql(bench)
        if profile and args.profile == "single":
            profile.enable()
        for kind, samples in single(bench, args.visits).items():
            print(line(f"{backend} {kind}", samples))
        if profile:
            profile.disable()
        if profile and args.profile == "batch":
            profile.enable()
        print(line(f"{backend} batch", batches(bench, args.batches, args.batch, args.huts)))
        print(line(f"{backend} overtaken", overtaken(bench, args.visits // 4)))
        if profile:
            profile.disable()
            pstats.Stats(profile, stream=sys.stderr).sort_stats(args.sort).print_stats(args.top)
        bench.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
