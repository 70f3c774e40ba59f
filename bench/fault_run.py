"""The long fault run (issue 10): ``--huts`` emulated huts, each with its own ``toolhut
gateway`` process, send about ``--events`` events (card taps, door changes, borrow and
return scans) through a real Mosquitto with the generated password and ACL files (every
message sealed) to two ``toolhut server`` processes on PostgreSQL, while a schedule drawn
from ``--seed`` SIGKILLs and restarts the broker, a server and a gateway, cuts one gateway
off the network for ``--cut-minutes`` of its clock and writes line noise on one serial
link. Then it checks that every event was applied exactly once, no item is on two open
loans and the ledger equals a replay of the event log, and prints the counts. Exit status
1 if any check failed.

    python bench/fault_run.py [--seed 1] [--events 10000] [--huts 5] [--cut-minutes 5]
                              [--runs 1] [--quick]

The harness is the one ``tests/e2e/test_faults.py`` runs, shorter (tests/support/fault_run.py).
Needs PostgreSQL (``TOOLHUT_TEST_POSTGRES``, default the machine's) and Mosquitto.
Its measure for docs/benchmarks.md is the number of problems the checks found (target 0);
each run takes the next seed. ``--quick``: 300 events, 3 huts, a 1-minute cut.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from harness import BenchRun, Measure, at_most, parser, repeat

from tests.support.fault_run import FaultRun, Report
from tests.support.services import (
    fresh_postgres_database,
    fresh_postgres_schema,
    postgres_admin_url,
    unique_prefix,
)


def one_run(seed: int, events: int, huts: int, cut_minutes: float, admin: str) -> Report:
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="toolhut-faults-") as workdir,
        fresh_postgres_database(admin) as db,
        fresh_postgres_schema(db) as live,
        fresh_postgres_schema(db) as again,
    ):
        run = FaultRun(
            seed=seed,
            events=events,
            huts=huts,
            workdir=Path(workdir),
            db_url=live,
            replay_url=again,
            prefix=unique_prefix(),
            cut_clock_s=cut_minutes * 60,
            say=lambda line: print(line, flush=True),
        )
        report = run.run()
    counts = report.counts
    print(
        f"\nfault run, seed {seed}, {huts} huts: {report.wall_s:.0f} s "
        f"(total with set-up {time.monotonic() - started:.0f} s)\n"
        f"  sent (events the gateways recorded)   {counts.sent}\n"
        f"  driven (card/door/scan frames acked)  {counts.driven}\n"
        f"  applied                               {counts.applied}\n"
        f"  rejected by the rules                 {counts.rejected}\n"
        f"  duplicates dropped (acks seen)        {counts.duplicates_dropped}\n"
        f"  redelivered (publishes seen again)    {counts.redelivered}\n"
        f"  dead-lettered                         {counts.dead_lettered}\n"
        f"  held back, then applied (queued acks) {counts.queued_acks}\n"
        f"  line noise bytes                      {counts.noise_bytes}\n"
        f"  serial frames given up (gateway down) {counts.frames_given_up}\n"
        f"  cut gateway offline (its clock, min)  {report.cut_clock_span_s / 60:.1f}"
    )
    if report.problems:
        print("PROBLEMS:\n  " + "\n  ".join(report.problems))
    else:
        print("every event applied exactly once, no loan open twice, ledger equal to its replay")
    return report


def main() -> int:
    p = parser(__doc__, runs=1)
    p.add_argument("--seed", type=int, default=1, help="fault schedule and visits (first run)")
    p.add_argument("--events", type=int, default=None, help="events to drive, about (10,000)")
    p.add_argument("--huts", type=int, default=None, help="huts, 3 at least (5)")
    p.add_argument(
        "--cut-minutes", type=float, default=None, help="the cut gateway's time offline (5)"
    )
    args = p.parse_args()
    admin = postgres_admin_url()
    if admin is None:
        print("fault_run: PostgreSQL not reachable (set TOOLHUT_TEST_POSTGRES)", file=sys.stderr)
        return 2
    bench = BenchRun("fault_run", args)
    events = args.events or (300 if bench.quick else 10_000)
    huts = args.huts or (3 if bench.quick else 5)
    cut = args.cut_minutes or (1.0 if bench.quick else 5.0)
    reports: list[Report] = []

    def one(i: int) -> dict[str, float]:
        report = one_run(args.seed + i, events, huts, cut, admin)
        reports.append(report)
        return {"problems": len(report.problems), "wall_s": report.wall_s}

    runs = repeat(bench.runs, one)
    bench.add(
        Measure(
            f"fault run: problems found ({events:,} events, {huts} huts, broker, server and "
            f"gateway killed, a {cut:g}-minute cut, line noise)",
            "problems",
            runs["problems"],
            target=at_most(0, "every check passes (0 problems)"),
            details={
                "wall_s": runs["wall_s"],
                "seeds": [args.seed + i for i in range(bench.runs)],
                "problems": [p for r in reports for p in r.problems][:20],
            },  # fmt: skip
        )
    )
    bench.finish()
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
