"""docs/benchmarks.md from the benches' JSON results: the machine, each bench's command,
and one table per measure with its target and whether it was met. Nothing else: what each
bench does is in its own docstring, and earlier figures are in the file's git history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STATIC = ("cores", "memory_gib", "cpu", "os", "python", "mosquitto", "sqlite", "postgresql")
HEADINGS = ("cores", "memory", "CPU", "OS", "Python", "Mosquitto", "SQLite", "PostgreSQL")
MET = {True: "**met**", False: "**not met**", None: "no target"}
RESULT_KEYS = ("bench", "command", "machine", "measures")
MEASURE_KEYS = ("measure", "unit", "runs", "median", "floor", "ratio", "target", "met")


class ResultError(ValueError):
    """A result that is not in the schema: named, so the report is not half written."""


def check(result: Any) -> dict[str, Any]:
    """``result`` if it has what the report reads (extra fields are fine), else ResultError."""
    if not isinstance(result, dict):
        raise ResultError("a result is not a JSON object")
    missing = [k for k in RESULT_KEYS if k not in result]
    if missing:
        raise ResultError(f"result {result.get('bench', '?')!r} lacks {', '.join(missing)}")
    for m in result["measures"]:
        lacking = [k for k in MEASURE_KEYS if k not in m]
        if lacking or not m["runs"]:
            raise ResultError(
                f"measure {m.get('measure', '?')!r} of {result['bench']!r} lacks "
                f"{', '.join(lacking) or 'runs'}"
            )
    return result


def number(value: float | None) -> str:
    """A figure as a person reads it: 12,345 / 123.4 / 1.23 / 0.0123."""
    if value is None:
        return "–"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.01 or size == 0:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _machine_cells(machine: dict[str, Any]) -> list[str]:
    cells = []
    for key in STATIC:
        value = machine.get(key)
        if value is None:
            cells.append("–")
        elif key == "memory_gib":
            cells.append(f"{value:g} GiB")
        else:
            cells.append(str(value))
    return cells


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def machine_section(results: Sequence[dict[str, Any]]) -> list[str]:
    rows = {tuple(_machine_cells(r["machine"])): r["bench"] for r in results}
    lines = ["## Machine", ""]
    if len(rows) <= 1:
        lines += [_row(HEADINGS), _row(["---"] * len(HEADINGS))]
        lines += [_row(cells) for cells in rows]
    else:  # results from more than one machine: each bench's own
        lines += [_row(("bench", *HEADINGS)), _row(["---"] * (len(HEADINGS) + 1))]
        lines += [_row((r["bench"], *_machine_cells(r["machine"]))) for r in results]
    return [*lines, ""]


def _spread(values: Sequence[float], unit: str) -> str:
    return f"{number(min(values))}–{number(max(values))} {unit}".rstrip()


def _ratio(value: float | None, as_percent: bool) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.0f} %" if as_percent else f"{value:.2f}×"


def measure_table(m: dict[str, Any]) -> list[str]:
    unit = m["unit"]
    lines = [f"### {m['measure']}", ""]
    lines += [_row(("", "median", "spread", "runs")), _row(["---"] * 4)]
    lines.append(
        _row(("product", f"{number(m['median'])} {unit}", _spread(m["runs"], unit),
              str(len(m["runs"]))))
    )  # fmt: skip
    floor = m.get("floor")
    if floor is not None:
        lines.append(
            _row((f"raw part: {floor['name']}", f"{number(floor['median'])} {floor['unit']}",
                  _spread(floor["runs"], floor["unit"]), str(len(floor["runs"]))))
        )  # fmt: skip
        as_percent = "%" in m["target"]
        ratios = m.get("ratios") or []
        spread = "–"
        if ratios:
            least, most = _ratio(min(ratios), as_percent), _ratio(max(ratios), as_percent)
            spread = f"{least.rstrip(' %')}–{most}"
        count = str(len(ratios)) if ratios else ""
        lines.append(_row(("ratio", _ratio(m["ratio"], as_percent), spread, count)))
    lines.append(_row(("target", m["target"], MET[m["met"]], "")))
    return [*lines, ""]


def bench_section(result: dict[str, Any]) -> list[str]:
    machine = result["machine"]
    before, after = machine.get("load_before"), machine.get("load_after")
    load = (
        f"load average (1, 5, 15 min) {' '.join(map(number, before))} before, "
        f"{' '.join(map(number, after))} after"
        if before and after
        else "load average not recorded"
    )
    taken = ", ".join(
        x
        for x in (
            f"commit `{result['commit']}`" if result.get("commit") else "",
            str(result.get("started", "")),
            load,
        )
        if x
    )
    lines = [f"## {result['bench']}", "", f"    {result['command']}", "", f"{taken}.", ""]
    for m in result["measures"]:
        lines += measure_table(m)
    return lines


def render(results: Sequence[dict[str, Any]], *, failed: Sequence[str] = ()) -> str:
    results = [check(r) for r in results]
    quick = any(r.get("mode") == "quick" for r in results)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py) from the benches' JSON results; do not edit by "
        "hand. Each figure is the median of its runs, with their spread (least–most); a ratio is "
        "to the raw part measured in the same runs, and a target is judged on the median (or on "
        "the median ratio).",
        "",
    ]
    if quick:
        lines += ["**Quick mode: a few seconds a bench, these figures mean nothing.**", ""]
    lines += machine_section(results)
    for result in results:
        lines += bench_section(result)
    for name in failed:
        lines += [f"## {name}", "", "No result: the bench failed in this run.", ""]
    return "\n".join(lines).rstrip() + "\n"
