"""docs/benchmarks.md's generator (bench/report.py) on small fixed results: the machine, each
bench's command, one table per measure with its raw part, ratio, target and met / not met,
and nothing else; and a real bench's result in the schema the report reads. Run as the
scripts they are (tests do not import bench/); no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "bench" / "report.py"
SCHEMA = json.loads((ROOT / "bench" / "result.schema.json").read_text(encoding="utf-8"))

MACHINE = {
    "cores": 2, "memory_gib": 23.5, "cpu": "AMD EPYC", "os": "Linux-6", "python": "3.11.7",
    "mosquitto": "2.0.11", "sqlite": "3.40.1", "postgresql": "15.20",
    "load_before": [0.41, 0.5, 0.3], "load_after": [1.2, 0.7, 0.4],
}  # fmt: skip


def measure(name: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "measure": name, "unit": "ms", "runs": [1.0, 2.0, 3.0], "median": 2.0,
        "spread": [1.0, 3.0], "floor": None, "ratio": None, "target": "none set", "met": None,
    }  # fmt: skip
    return base | fields


INGEST = {
    "bench": "ingest_throughput",
    "command": "python bench/ingest_throughput.py",
    "machine": MACHINE,
    "commit": "abc1234",
    "started": "2026-12-01T20:00:00+00:00",
    "mode": "full",
    "measures": [
        measure(
            "ingest on SQLite, publish → committed → acked",
            unit="events/s",
            runs=[2600.0, 2450.5, 2700.0],
            median=2600.0,
            spread=[2450.5, 2700.0],
            floor={
                "name": "broker QoS-1 rate",
                "unit": "events/s",
                "runs": [10000.0, 9800.0, 10400.0],
                "median": 10000.0,
            },  # fmt: skip
            ratio=0.26,
            ratios=[0.26, 0.25, 0.26],
            target="≥ 50 % of the broker's QoS-1 rate",
            met=False,
        ),
    ],
}
LATENCY = {  # as bench/district.py may write it: only the schema's own fields
    "bench": "hut_latency",
    "command": "python bench/hut_latency.py --taps 300",
    "machine": MACHINE,
    "measures": [
        measure(
            "card → unlock p99, server and broker down",
            runs=[1.9, 2.1],
            median=2.0,
            spread=[1.9, 2.1],
            floor={
                "name": "pseudo-terminal round trip p99",
                "unit": "ms",
                "runs": [0.3, 0.33],
                "median": 0.315,
            },  # fmt: skip
            ratio=6.35,
            target="p99 ≤ 10× the pseudo-terminal round trip",
            met=True,
        ),
        measure(
            "gateway idle CPU", unit="% of one core", runs=[0.25], median=0.25, spread=[0.25, 0.25]
        ),  # fmt: skip
    ],
}


def report(tmp_path: Path, *results: dict[str, Any], extra: tuple[str, ...] = ()) -> str:
    paths = []
    for n, result in enumerate(results):
        path = tmp_path / f"{n}.json"
        path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        paths.append(str(path))
    out = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(REPORT), *paths, "--out", str(out), *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out.read_text(encoding="utf-8")


def test_the_report_has_the_machine_each_command_and_a_table_per_measure(tmp_path: Path) -> None:
    text = report(tmp_path, INGEST, LATENCY)
    assert text.startswith("# Benchmarks\n")
    assert "| 2 | 23.5 GiB | AMD EPYC | Linux-6 | 3.11.7 | 2.0.11 | 3.40.1 | 15.20 |" in text
    assert text.count("## Machine") == 1  # one machine: said once
    assert "    python bench/ingest_throughput.py\n" in text
    assert "    python bench/hut_latency.py --taps 300\n" in text
    assert "commit `abc1234`, 2026-12-01T20:00:00+00:00, load average" in text
    assert "0.41 0.50 0.30 before, 1.20 0.70 0.40 after" in text
    assert text.count("\n### ") == 3
    assert text.index("## ingest_throughput") < text.index("## hut_latency")  # as given
    assert "Quick mode" not in text


def test_a_measure_shows_median_spread_raw_part_ratio_and_whether_it_met(tmp_path: Path) -> None:
    text = report(tmp_path, INGEST, LATENCY)
    assert "| measured | 2,600 events/s | 2,450–2,700 events/s | 3 |" in text
    assert "| raw part: broker QoS-1 rate | 10,000 events/s | 9,800–10,400 events/s | 3 |" in text
    # A target in per cent shows its ratio in per cent, any other as a multiple.
    assert "| ratio | 26 % | 25–26 % | 3 |" in text
    assert "| target | ≥ 50 % of the broker's QoS-1 rate | **not met** |  |" in text
    assert "| ratio | 6.35× | – |  |" in text  # no per-run ratios in that result
    assert "| target | p99 ≤ 10× the pseudo-terminal round trip | **met** |  |" in text
    idle = text[text.index("### gateway idle CPU") :]
    assert "| measured | 0.25 % of one core | 0.25–0.25 % of one core | 1 |" in idle
    assert "raw part" not in idle and "| ratio |" not in idle
    assert "| target | none set | no target |  |" in idle


def test_results_from_two_machines_name_each_bench_s_machine(tmp_path: Path) -> None:
    other = INGEST | {"machine": MACHINE | {"cores": 4}}
    text = report(tmp_path, other, LATENCY)
    assert "| bench | cores |" in text
    assert "| ingest_throughput | 4 |" in text and "| hut_latency | 2 |" in text


def test_benches_on_one_machine_share_its_row(tmp_path: Path) -> None:
    other = INGEST | {"machine": MACHINE | {"cores": 4}}
    text = report(tmp_path, other, LATENCY, LATENCY | {"bench": "district"})
    assert "| ingest_throughput | 4 |" in text and "| hut_latency, district | 2 |" in text


def test_quick_results_are_marked_and_a_failed_bench_is_said(tmp_path: Path) -> None:
    text = report(tmp_path, LATENCY | {"mode": "quick"}, extra=("--failed", "district"))
    assert "**Quick mode: a few seconds a bench, these figures mean nothing.**" in text
    assert "## district\n\nNo result: the bench failed in this run." in text


def test_a_result_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(REPORT), str(bad)], capture_output=True, text=True, cwd=ROOT,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "report: cannot read a result" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_result_missing_a_field_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    broken = LATENCY | {"measures": [{k: v for k, v in LATENCY["measures"][0].items()
                                      if k != "target"}]}  # fmt: skip
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    out = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, str(REPORT), str(path), "--out", str(out)], capture_output=True,
        text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "'hut_latency', at measures/0: 'target' is a required property" in done.stderr
    assert not out.exists()


def test_a_bench_writes_its_result_in_the_schema_the_report_reads(tmp_path: Path) -> None:
    result = tmp_path / "labels_pdf.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "labels_pdf.py"), "--quick", "--count", "2",
         "--json", str(result)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = json.loads(result.read_text(encoding="utf-8"))
    jsonschema.validate(written, SCHEMA)
    assert written["bench"] == "labels_pdf" and written["mode"] == "quick"
    assert written["command"] == f"python bench/labels_pdf.py --quick --count 2 --json {result}"
    assert set(written["machine"]) >= {"cores", "cpu", "python", "load_before", "load_after"}
    [labels] = written["measures"]
    assert labels["measure"] == "2 item labels into one 3x8 PDF" and labels["unit"] == "s"
    assert len(labels["runs"]) == 1 and labels["floor"] is None and labels["ratio"] is None
    assert labels["target"] == "≤ 10 s for 1,000 labels" and isinstance(labels["met"], bool)
    assert "### 2 item labels into one 3x8 PDF" in report(tmp_path, written)
