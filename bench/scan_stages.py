"""Where a scan's answer spends its time: scan -> feedback through the processes stack of
bench/hut_latency.py, cut into stages by marks the gateway and the server note on one clock
(bench/harness/stage_marks.py), with the parts under it measured in the same run: the
raw tap and the broker's round trip (as hut_latency), and the one real wait on the
gateway's disk, a durable SQLite commit (WAL, synchronous=FULL, as the outbox's) in the
folder of the gateway's data. A diagnostic, not one of ``make bench``'s measures; no target.

For each stage, the median and 90th percentile of the time from the stage before it; a
stage whose mark is missing in a sample leaves that sample out of its row and the next
one's. The gateway's first serial read after a scan can be the controller's ack of the
last answer, read late: the split of the first two stages is approximate, their sum is
not.

    python bench/scan_stages.py [--db sqlite|postgresql] [--scans 300]
"""

from __future__ import annotations

import argparse
import bisect
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from harness import percentile  # first: this tree on the path, for this process and the stack's
from harness.broker_floors import request_response
from harness.raw_tap import raw_tap
from harness.services import private_broker, scratch_db
from hut_latency import CARD, FEEDBACK, TAG, processes_stack, scans

MARKS = Path(__file__).with_name("harness") / "stage_marks.py"
# (stage, the mark that ends it, where the time goes), in the scan's path order.
STAGES = (
    ("scan to gateway", "serial read", "emulator writes the scan; pty; gateway's reader wakes"),
    ("frame to handler", "Gateway._on_scan in", "frame decoded; the gateway's lock"),
    ("to the recorder", "Recorder._write in", "handler; the recorder thread wakes"),
    ("outbox append", "Outbox.append out", "event built and sealed; SQLite commit, fsync"),
    ("publish", "Uplink.publish out", "paho publish (queued for its network thread)"),
    ("to the server", "IngestWorker._on_message in", "paho writes; broker; server's paho reads"),
    ("to the worker", "IngestWorker._apply in", "the ingest thread wakes"),
    ("ledger", "IngestWorker._apply out", "parse, MAC; the ledger's transaction, commit"),
    ("ack out", "IngestWorker._finish out", "AckBatch built, sealed, published; broker ack"),
    ("ack to gateway", "Uplink._handle_message in", "paho writes; broker; gateway's paho reads"),
    ("ack to feedback", "Gateway._send_feedback in", "AckBatch parsed, MAC checked"),
    ("feedback frame", "serial written", "frame queued and written to the pty"),
    ("to the resident", "feedback line", "pty; emulator decodes; the bench's waiter wakes"),
)


def durable_commits(folder: Path, n: int) -> list[float]:
    """Milliseconds per commit of one 400-byte row, as the outbox commits (WAL, FULL)."""
    db = sqlite3.connect(folder / "fsync-probe.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (payload BLOB)")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?)", (b"x" * 400,))
        db.execute("COMMIT")
        samples.append((time.perf_counter() - start) * 1000)
    db.close()
    return samples


def read_marks(paths: list[Path]) -> tuple[list[float], list[str]]:
    marks = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            t, label = line.split(" ", 1)
            marks.append((float(t), label))
    marks.sort()
    return [t for t, _ in marks], [label for _, label in marks]


def stage_times(
    samples: list[tuple[float, float]], times: list[float], labels: list[str]
) -> list[list[float | None]]:
    """Per sample (its start and end), the time each stage ends (None: no mark)."""
    out = []
    for start, end in samples:
        ends: list[float | None] = []
        at = start
        for _stage, label, _why in STAGES:
            found = end if label == "feedback line" else None
            i = bisect.bisect_left(times, at)
            while found is None and i < len(times) and times[i] <= end:
                if labels[i] == label:
                    found = times[i]
                i += 1
            ends.append(found)
            if found is not None:
                at = found
        out.append([start, *ends])
    return out


def _row(name: str, values: list[float], why: str, total: float) -> str:
    p50, p90 = percentile(values, 50), percentile(values, 90)
    return f"{name:<18} {p50:7.3f} {p90:7.3f} {p50 / total:6.0%}  {why}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--scans", type=int, default=300)
    args = p.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="toolhut-stages-") as tmp,
        private_broker() as endpoint,
        scratch_db(args.db, name="stages") as db_url,
    ):
        folder = Path(tmp)
        toolhut = (sys.executable, str(MARKS), str(folder / "marks"))
        samples: list[tuple[float, float]] = []
        with processes_stack(folder, endpoint.url, db_url, toolhut=toolhut) as stack:
            scans(stack.hut, 50, first=0)  # warm up: caches, prepared statements
            broker = request_response(endpoint, args.scans)
            floor = raw_tap(endpoint, stack.db_url, args.scans, key=stack.key, card=CARD, tag=TAG)
            fsync = durable_commits(folder, args.scans)
            for i in range(args.scans):
                start = time.perf_counter()
                waited = stack.hut.waiter.timed(
                    FEEDBACK[(50 + i) % 2], lambda: stack.hut.emulator.command(f"scan {TAG}")
                )
                samples.append((start, start + waited / 1000))
        # The stack is stopped: each process wrote its marks on its way out.
        paths = [folder / "marks.gateway", folder / "marks.server"]
        missing = [path.name for path in paths if not path.exists()]
        if missing:
            raise SystemExit(f"no marks from {missing}: did the process end cleanly?")
        times, labels = read_marks(paths)
    ends = stage_times(samples, times, labels)
    total = percentile([(end - start) * 1000 for start, end in samples], 50)
    print(f"scan -> feedback on {args.db}, {args.scans} scans: p50 {total:.3f} ms")
    print(f"{'stage':<18} {'p50 ms':>7} {'p90':>7} {'share':>6}  where the time goes")
    for k, (stage, _label, why) in enumerate(STAGES):
        steps = [
            (after - before) * 1000
            for before, after in ((e[k], e[k + 1]) for e in ends)
            if before is not None and after is not None
        ]
        if steps:
            print(_row(stage, steps, why, total))
    print("parts under it, measured in the same run:")
    for name, values in (
        ("raw tap", floor),
        ("broker round trip", broker),
        ("durable commit", fsync),
    ):
        print(f"  {name:<18} p50 {percentile(values, 50):7.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
