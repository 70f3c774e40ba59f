"""A spreadsheet import of 10,000 rows against its raw floor, in the same run, for the real
item and member sheets (the kinds staff import most: a hut's inventory, a district's
residents).

- import: ``server.tabular.runner.run_import`` of a 10,000-row CSV saved as Excel does
  (UTF-8 with BOM, Chinese headings): read, decode, headings, every row checked against the
  database and the other rows (hut, category, tag taken; members: phone, flags, card
  taken), written in a SAVEPOINT with one audit entry per record (members: the card bound
  through the rule book too), committed;
- floor: the same bytes parsed by the csv module and the same rows written by one bulk
  INSERT per table with SQLAlchemy Core, committed: nothing checked, nothing audited.

Each is run ``--runs`` times on one scratch database per database kind (the rows deleted
between runs); the median and the spread (least, most) in seconds, and the ratio of the
medians. SQLite always; PostgreSQL too when it answers (``--pg``, default the tests'
database), in a schema of its own, dropped after.

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
from server.records.item_sheet import ITEM_SHEET  # noqa: E402
from server.records.member_sheet import SHEET as MEMBER_SHEET  # noqa: E402
from server.storage import make_engine, make_sessionmaker  # noqa: E402
from server.storage.migrate import migrate_engine  # noqa: E402
from server.storage.models import Card, Hut, Item, Member, MemberFlagRow  # noqa: E402
from server.storage.staff_models import AuditEntry  # noqa: E402
from server.tabular.runner import run_import  # noqa: E402
from server.tabular.spec import Sheet  # noqa: E402

PREFIX = "BENCH"  # tags are upper case (the item fields normalise them)
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DEFAULT_PG = os.environ.get(
    "TOOLHUT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


HUT = "bench-hut"


def item_csv(rows: int) -> bytes:
    """A hut's inventory as staff would keep it: Chinese headings and names, saved by Excel."""
    lines = ["标签,中文名称,英文名称,类别,工具屋,所属机构,备注"]
    lines += [f"{PREFIX}{n:06d},工具{n},tool {n},hand_tools,{HUT},街道志愿者协会,第{n}号"
              for n in range(rows)]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def member_csv(rows: int) -> bytes:
    """A district's residents with their cards."""
    lines = ["编号,姓名,楼栋单元,电话,语言,标记,卡号"]
    lines += [f",住户{n},{1 + n % 30}-{101 + n % 600},139{n:08d},zh,{'老人' if n % 4 else ''},"
              f"0E{n:06X}" for n in range(rows)]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def _rows(data: bytes) -> list[list[str]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    next(reader)
    return list(reader)


def item_floor(db: Session, data: bytes) -> None:
    db.execute(
        insert(Item),
        [{"tag": tag, "name_zh": zh, "name_en": en, "category": category, "hut_id": hut,
          "owner": owner, "notes": notes} for tag, zh, en, category, hut, owner, notes
         in _rows(data)],
    )  # fmt: skip


def member_floor(db: Session, data: bytes) -> None:
    rows = _rows(data)
    ids = db.scalars(
        insert(Member).returning(Member.id, sort_by_parameter_order=True),
        [{"name": name, "building_unit": flat, "phone": phone, "language": language}
         for _id, name, flat, phone, language, _flags, _card in rows],
    ).all()  # fmt: skip
    db.execute(
        insert(Card),
        [{"uid": row[6], "member_id": member_id} for row, member_id in zip(rows, ids, strict=True)],
    )


KINDS: dict[str, tuple[Sheet, Callable[[int], bytes], Callable[[Session, bytes], None]]] = {
    "items": (ITEM_SHEET, item_csv, item_floor),
    "members": (MEMBER_SHEET, member_csv, member_floor),
}


def imported(sessions: sessionmaker[Session], sheet: Sheet, data: bytes) -> None:
    with sessions() as db:
        report = run_import(
            db, sheet, data, "bench.csv", dry_run=False, actor=Actor("bench"), now=NOW
        )
        assert report.ok and report.written == report.rows, (report.written, report.errors[:3])
        db.commit()


def floor(
    sessions: sessionmaker[Session], write: Callable[[Session, bytes], None], data: bytes
) -> None:
    with sessions() as db:
        write(db, data)
        db.commit()


def cleared(sessions: sessionmaker[Session]) -> None:
    with sessions() as db:
        db.execute(delete(Item).where(Item.tag.startswith(PREFIX)))
        db.execute(delete(Card))
        db.execute(delete(MemberFlagRow))
        db.execute(delete(Member))
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


def bench(label: str, url: str, rows: int, runs: int) -> None:
    engine = make_engine(url)
    try:
        migrate_engine(engine)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as db:
            db.add(Hut(id=HUT, name="测试工具屋"))
        for kind in KINDS:
            bench_kind(f"{label}, {kind}", sessions, kind, rows, runs)
    finally:
        engine.dispose()


def bench_kind(
    label: str, sessions: sessionmaker[Session], kind: str, rows: int, runs: int
) -> None:
    sheet, make, write = KINDS[kind]
    data = make(rows)
    timed(lambda: imported(sessions, sheet, data), sessions, 1)  # warm: caches, plans
    full = timed(lambda: imported(sessions, sheet, data), sessions, runs)
    bare = timed(lambda: floor(sessions, write, data), sessions, runs)
    cleared(sessions)
    ratio = statistics.median(full) / statistics.median(bare)
    print(f"{label}, {rows:,} rows ({len(data) / 1e6:.2f} MB):")
    print(f"  import  {shown(full)}, {rows / statistics.median(full):,.0f} rows/s")
    print(f"  floor   {shown(bare)} (csv module + one bulk INSERT per table)")
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
    with tempfile.TemporaryDirectory() as tmp, scratch_db(None, Path(tmp)) as url:
        bench("SQLite", url, rows, runs)
    if not postgres_answers(args.pg):
        print(f"PostgreSQL at {args.pg.split('@')[-1]} does not answer: skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp, scratch_db(args.pg, Path(tmp)) as url:
        bench("PostgreSQL", url, rows, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
