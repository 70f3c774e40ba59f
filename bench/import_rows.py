"""A spreadsheet import of 10,000 rows against its raw floor, in the same run.

- import: ``server.tabular.runner.run_import`` of a 10,000-row CSV (read, decode, headers,
  every row checked, written in a SAVEPOINT with one audit entry per record, committed),
  through the tests' categories sheet (tests/support/category_sheet.py) until the item,
  supply and member sheets land;
- floor: the same bytes parsed by the csv module and the same rows written by one bulk
  INSERT with SQLAlchemy Core, committed: nothing checked, nothing audited.

Each is run ``--runs`` times on one scratch database per kind (the rows deleted between
runs); the median and the spread (least, most) in seconds, and the ratio of the medians.
SQLite always; PostgreSQL too when it answers (``--pg``, default the tests' database), in a
schema of its own, dropped after.

    python bench/import_rows.py [--rows 10000] [--runs 5] [--pg URL] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, from a script

from _scratch import scratch_db  # noqa: E402
from sqlalchemy import delete, insert  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from server.domain.actors import Actor  # noqa: E402
from server.storage import make_engine, make_sessionmaker  # noqa: E402
from server.storage.migrate import migrate_engine  # noqa: E402
from server.storage.models import ItemCategory  # noqa: E402
from server.storage.staff_models import AuditEntry  # noqa: E402
from server.tabular.runner import run_import  # noqa: E402
from tests.support.category_sheet import CategorySheet  # noqa: E402

PREFIX = "bench_"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DEFAULT_PG = os.environ.get(
    "TOOLHUT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def csv_bytes(rows: int) -> bytes:
    """A file as staff would keep it: Chinese headings and names, saved by Excel (BOM)."""
    lines = ["类别代码,中文名称,英文名称,借期天数,续借次数,每人上限,预约保留小时"]
    lines += [f"{PREFIX}{n:06d},工具{n},tool {n},{1 + n % 30},{n % 3},{1 + n % 5},48"
              for n in range(rows)]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def imported(sessions: sessionmaker[Session], data: bytes) -> None:
    with sessions() as db:
        report = run_import(
            db, CategorySheet(), data, "bench.csv", dry_run=False, actor=Actor("bench"),
            now=NOW,
        )  # fmt: skip
        assert report.ok and report.written == report.rows, report.errors[:3]
        db.commit()


def floor(sessions: sessionmaker[Session], data: bytes) -> None:
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    next(reader)
    names = ("key", "name_zh", "name_en", "loan_days", "max_renewals", "max_per_member",
             "hold_hours")  # fmt: skip
    rows = [dict(zip(names, line, strict=True)) for line in reader]
    with sessions() as db:
        db.execute(insert(ItemCategory), rows)
        db.commit()


def cleared(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        db.execute(delete(ItemCategory).where(ItemCategory.key.startswith(PREFIX)))
        db.execute(delete(AuditEntry))
        db.commit()


def timed(run: Callable[[], None], sessions: sessionmaker[Session], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        cleared(sessions)
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def shown(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples):.3f} s "
        f"(spread {min(samples):.3f}–{max(samples):.3f} s, {len(samples)} runs)"
    )


def bench(label: str, url: str, data: bytes, rows: int, runs: int) -> None:
    engine = make_engine(url)
    try:
        migrate_engine(engine)
        sessions = make_sessionmaker(engine)
        timed(lambda: imported(sessions, data), sessions, 1)  # warm: imports, caches, plans
        full = timed(lambda: imported(sessions, data), sessions, runs)
        bare = timed(lambda: floor(sessions, data), sessions, runs)
        cleared(sessions)
    finally:
        engine.dispose()
    ratio = statistics.median(full) / statistics.median(bare)
    print(f"{label}, {rows:,} rows ({len(data) / 1e6:.2f} MB):")
    print(f"  import  {shown(full)}, {rows / statistics.median(full):,.0f} rows/s")
    print(f"  floor   {shown(bare)} (csv module + one bulk INSERT)")
    print(f"  ratio   {ratio:.1f}x the floor")


def postgres_answers(url: str) -> bool:
    import psycopg

    from server.storage import normalize_db_url

    plain = normalize_db_url(url).replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(plain, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL database URL")
    parser.add_argument("--quick", action="store_true", help="1,000 rows, 2 runs")
    args = parser.parse_args()
    rows, runs = (1_000, 2) if args.quick else (args.rows, args.runs)
    data = csv_bytes(rows)
    with tempfile.TemporaryDirectory() as tmp, scratch_db(None, Path(tmp)) as url:
        bench("SQLite", url, data, rows, runs)
    if not postgres_answers(args.pg):
        print(f"PostgreSQL at {args.pg.split('@')[-1]} does not answer: skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp, scratch_db(args.pg, Path(tmp)) as url:
        bench("PostgreSQL", url, data, rows, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
