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

Each run, on one scratch database per database kind (the rows deleted between runs):
the floor, then the import. SQLite always; PostgreSQL too when it answers, in a schema of
its own, dropped after.

    python bench/import_rows.py [--rows 10000] [--runs 5] [--only sqlite|postgresql] [--quick]
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime

from harness import BenchRun, Floor, Measure, at_most, parser, repeat
from harness.services import databases, scratch_db
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.records.item_sheet import ITEM_SHEET
from server.records.member_sheet import SHEET as MEMBER_SHEET
from server.storage import make_engine, make_sessionmaker
from server.storage.migrate import migrate_engine
from server.storage.models import Card, Hut, Item, Member, MemberFlagRow
from server.storage.staff_models import AuditEntry
from server.tabular.runner import run_import
from server.tabular.spec import Sheet

PREFIX = "BENCH"  # tags are upper case (the item fields normalise them)
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


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


def timed(run: Callable[[], None], sessions: sessionmaker[Session]) -> float:
    cleared(sessions)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
WHAT = {"items": "item rows (a hut's inventory)", "members": "member rows with cards"}


def bench(run: BenchRun, kind: str, rows: int) -> None:
    with scratch_db(kind, name="import") as url:
        engine = make_engine(url)
        try:
            migrate_engine(engine)
            sessions = make_sessionmaker(engine)
            with sessions.begin() as db:
                db.add(Hut(id=HUT, name="测试工具屋"))
            for sheet_kind in KINDS:
                bench_kind(run, sessions, kind, sheet_kind, rows)
        finally:
            engine.dispose()


def bench_kind(
    run: BenchRun, sessions: sessionmaker[Session], kind: str, sheet_kind: str, rows: int
) -> None:
    sheet, make, write = KINDS[sheet_kind]
    data = make(rows)
    timed(lambda: imported(sessions, sheet, data), sessions)  # warm: caches, plans

    def one(_i: int) -> dict[str, float]:
        return {
            "floor": timed(lambda: floor(sessions, write, data), sessions),
            "import": timed(lambda: imported(sessions, sheet, data), sessions),
        }

    runs = repeat(run.runs, one)
    cleared(sessions)
    run.add(
        Measure(
            f"spreadsheet import of {rows:,} {WHAT[sheet_kind]}, {NAMES[kind]}",
            "s",
            runs["import"],
            floor=Floor(
                "csv module + one bulk Core INSERT per table, nothing checked", "s", runs["floor"]
            ),  # fmt: skip
            target=at_most(10.0, "10,000 rows in seconds (≤ 10 s)"),
            details={"csv_mb": len(data) / 1e6},
        )
    )


def main() -> int:
    p = parser(__doc__, runs=5)
    p.add_argument("--rows", type=int, default=None, help="default 10,000; quick 300")
    p.add_argument("--only", choices=list(NAMES), default=None)
    args = p.parse_args()
    run = BenchRun("import_rows", args)
    rows = args.rows or (300 if run.quick else 10_000)
    for kind in databases(args.only):
        bench(run, kind, rows)
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
