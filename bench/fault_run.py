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

The harness is the one ``tests/e2e/test_faults.py`` runs, shorter (tests/support/fault_run.py).
Needs PostgreSQL (``TOOLHUT_TEST_POSTGRES``, default the machine's) and Mosquitto.
Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.support

from tests.support.fault_run import FaultRun  # noqa: E402
from tests.support.services import (  # noqa: E402
    fresh_postgres_database,
    fresh_postgres_schema,
    postgres_admin_url,
    unique_prefix,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="fault schedule and visits")
    parser.add_argument("--events", type=int, default=10_000, help="events to drive, about")
    parser.add_argument("--huts", type=int, default=5, help="huts (3 at least)")
    parser.add_argument(
        "--cut-minutes", type=float, default=5.0, help="the cut gateway's time offline, its clock"
    )
    args = parser.parse_args()
    admin = postgres_admin_url()
    if admin is None:
        print("fault_run: PostgreSQL not reachable (set TOOLHUT_TEST_POSTGRES)", file=sys.stderr)
        return 2
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="toolhut-faults-") as workdir,
        fresh_postgres_database(admin) as db,
        fresh_postgres_schema(db) as live,
        fresh_postgres_schema(db) as again,
    ):
        run = FaultRun(
            seed=args.seed,
            events=args.events,
            huts=args.huts,
            workdir=Path(workdir),
            db_url=live,
            replay_url=again,
            prefix=unique_prefix(),
            cut_clock_s=args.cut_minutes * 60,
            say=lambda line: print(line, flush=True),
        )
        report = run.run()
    counts = report.counts
    print(
        f"\nfault run, seed {args.seed}, {args.huts} huts: {report.wall_s:.0f} s "
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
        return 1
    print("every event applied exactly once, no loan open twice, ledger equal to its replay")
    return 0


if __name__ == "__main__":
    sys.exit(main())
