"""docs/benchmarks.md from the benches' JSON results (bench/harness/report.py); ``make
bench`` calls it through bench/run.py, or by hand:

    python bench/report.py bench/results/*.json [--out docs/benchmarks.md] [--failed NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.report import ResultError, render


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="*", type=Path, help="JSON results, in the report's order")
    p.add_argument("--out", type=Path, default=None, help="write here (default: stdout)")
    p.add_argument("--failed", action="append", default=[], help="a bench that gave no result")
    args = p.parse_args(argv)
    try:
        results = [json.loads(path.read_text(encoding="utf-8")) for path in args.results]
    except (OSError, ValueError) as exc:
        print(f"report: cannot read a result: {exc}", file=sys.stderr)
        return 2
    try:
        text = render(results, failed=args.failed)
    except ResultError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
