"""Every benchmark, one after the other (bench/harness/suite.py), each writing its JSON
result; then docs/benchmarks.md is generated from the results (bench/report.py).

    python bench/run.py [--quick] [--only NAME ...] [--results DIR]

Full mode (``make bench``) is for a quiet machine: it takes long, writes the results to
bench/results/ (kept with the doc) and regenerates docs/benchmarks.md from every result
there, so ``--only`` renews one bench's section. Quick mode (``make
bench-quick``, CI) runs each bench for a few seconds so the code cannot rot: its results
and its report go to a temporary folder, never to docs/benchmarks.md, and only a bench
that crashes fails it, never a missed target. Exit status 1 if any bench failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness  # noqa: F401  (this tree first on the path, for every bench it starts)
from harness.report import render
from harness.suite import BENCHES, Entry

from toolhut_cli.mosquitto import mosquitto_binary

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "benchmarks.md"


def run_one(entry: Entry, results: Path, *, quick: bool) -> Path | None:
    """Run one bench; its JSON result's path, or None if it failed."""
    out = results / f"{entry.name}.json"
    out.unlink(missing_ok=True)
    shown = out.relative_to(HERE.parent) if out.is_relative_to(HERE.parent) else out
    command = [sys.executable, f"bench/{entry.script}", "--json", str(shown)]
    if quick:
        command.append("--quick")
    print(f"== {entry.script}{' --quick' if quick else ''}", flush=True)
    started = time.monotonic()
    code = subprocess.run(command, cwd=HERE.parent).returncode
    took = time.monotonic() - started
    if code != 0 or not out.exists():
        print(f"== {entry.script} FAILED (exit status {code}) after {took:.0f} s", flush=True)
        return None
    print(f"== {entry.script} done in {took:.0f} s", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few seconds a bench (CI)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="these benches only (no .py)")
    p.add_argument("--results", type=Path, default=None, help="where the JSON results go")
    args = p.parse_args()
    entries = [e for e in BENCHES if not args.only or e.name in args.only]
    unknown = set(args.only or ()) - {e.name for e in BENCHES}
    if unknown:
        p.error(f"no such bench: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="toolhut-bench-") as tmp:
        results = (args.results or (Path(tmp) if args.quick else HERE / "results")).resolve()
        results.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        failed: list[str] = []
        ran = 0
        started = time.monotonic()
        for entry in entries:
            if not (HERE / entry.script).exists():
                if not entry.optional:
                    raise SystemExit(f"bench/{entry.script} is missing")
                print(f"== {entry.script}: not in this tree, skipped", flush=True)
                continue
            if args.quick and not entry.quick:
                print(f"== {entry.script}: not in quick mode ({entry.why_not_quick})", flush=True)
                continue
            if args.quick and entry.needs_broker and mosquitto_binary() is None:
                print(f"== {entry.script}: SKIPPED, the mosquitto binary is not installed")
                continue
            ran += 1
            out = run_one(entry, results, quick=args.quick)
            if out is None:
                failed.append(entry.name)
            else:
                written.append(out)
        if not args.quick:  # the doc holds every bench's latest result, not only this run's
            written = [results / f"{e.name}.json" for e in BENCHES]
            written = [path for path in written if path.exists()]
        report = render([json.loads(p.read_text()) for p in written], failed=failed)
        target = Path(tmp) / "benchmarks.md" if args.quick else DOC
        target.write_text(report, encoding="utf-8")
        print(
            f"== {ran} benches in {time.monotonic() - started:.0f} s; "
            + ("report generated (quick: not kept)" if args.quick else f"{target} regenerated")
            + (f"; FAILED: {', '.join(failed)}" if failed else ""),
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
