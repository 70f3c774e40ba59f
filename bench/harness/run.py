"""One bench's run: its command line (``--quick``, ``--runs``, ``--json``), the machine
block with the load average before and after, the measures it adds, a plain summary on
stdout and the JSON result (bench/result.schema.json; docs/benchmarks.md's
generator, bench/report.py).

Quick mode is for CI: a few seconds a bench, so the code cannot rot; its figures mean
nothing and a missed target never fails it (only a crash does).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .machine import load_average, machine
from .measures import Measure
from .services import MACHINE_POSTGRES

ROOT = Path(__file__).resolve().parents[2]


def parser(doc: str | None, *, runs: int = 3) -> argparse.ArgumentParser:
    """The options every bench takes; the bench adds its own."""
    first = (doc or "").strip().split("\n\n")[0]
    p = argparse.ArgumentParser(description=first)
    p.add_argument("--quick", action="store_true", help="a few seconds, for CI: figures are noise")
    p.add_argument("--runs", type=int, default=None, help=f"repetitions (default {runs}; quick: 1)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the result here")
    p.set_defaults(default_runs=runs)
    return p


def runs_of(args: argparse.Namespace) -> int:
    if args.runs is not None:
        return max(1, int(args.runs))
    return 1 if args.quick else int(args.default_runs)


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


class BenchRun:
    """Collects one bench's measures; ``finish()`` prints them and writes the JSON."""

    def __init__(self, bench: str, args: argparse.Namespace) -> None:
        self.bench = bench
        self.args = args
        self.quick = bool(args.quick)
        self.runs = runs_of(args)
        self.measures: list[Measure] = []
        script = Path(sys.argv[0])
        try:
            script = script.resolve().relative_to(ROOT)
        except ValueError:
            pass
        self.command = shlex.join(["python", str(script), *sys.argv[1:]])
        self.started = datetime.now(UTC)
        self._load_before = load_average()
        self._machine = machine(MACHINE_POSTGRES)

    def add(self, measure: Measure) -> Measure:
        self.measures.append(measure)
        print(describe(measure), flush=True)
        return measure

    def result(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "command": self.command,
            "machine": {
                **self._machine,
                "load_before": self._load_before,
                "load_after": load_average(),
            },
            "measures": [m.to_json() for m in self.measures],
            # Added fields (readers may ignore them):
            "mode": "quick" if self.quick else "full",
            "commit": _commit(),
            "started": self.started.isoformat(timespec="seconds"),
        }

    def finish(self) -> int:
        result = self.result()
        if self.args.json is not None:
            self.args.json.parent.mkdir(parents=True, exist_ok=True)
            self.args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
            print(f"result written to {self.args.json}")
        return 0


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def describe(m: Measure) -> str:
    """One measure in a line or two, for the terminal."""
    runs = f"{len(m.runs)} run" + ("s" if len(m.runs) > 1 else "")
    line = (
        f"{m.measure}: median {_figure(m.median)} {m.unit} "
        f"({_figure(min(m.runs))}–{_figure(max(m.runs))}, {runs})"
    )
    if m.floor is not None:
        line += (
            f"\n  floor {m.floor.name}: median {_figure(m.floor.median)} {m.floor.unit}; "
            f"ratio {_figure(m.ratio)}"
        )
    met = {None: "", True: "met", False: "NOT met"}[m.met]
    if m.target is not None:
        line += f"\n  target {m.target.text}: {met}"
    return line
