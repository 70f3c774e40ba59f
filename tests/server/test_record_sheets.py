"""The item and supply Sheets, called directly (the import engine is another module's):
every bad row named, upsert by tag with audit entries, export that imports back, and
10,000 rows checked in well under two seconds."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.records.item_sheet import ITEM_SHEET
from server.records.supply_sheet import SUPPLY_SHEET
from server.records.tag_sheet import TagSheet
from server.seed import seed_demo
from server.storage.models import Consumable, Item
from server.storage.staff_models import AuditEntry
from server.tabular.report import ImportReport
from server.tabular.runner import run_export, run_import
from server.tabular.spec import SheetRow
from server.tabular.writing import Format
from tests.support.sql_count import statements

from .conftest import T0

ACTOR = Actor("staff-sheet")


def _row(line: int, **values: str) -> SheetRow:
    base = {
        "tag": f"S{line:05d}",
        "name_zh": "锤子",
        "name_en": "Hammer",
        "category": "hand_tools",
        "hut": "demo-hut",
    }
    return SheetRow(line, base | values)


def test_every_bad_row_is_named_and_nothing_is_written(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rows = [
        _row(2),
        _row(3, hut="nowhere", loan_days="many"),
        _row(4, tag="C0001"),  # a supply's tag
        _row(5, tag="S00002"),  # twice in the file
        _row(6, category="nope", name_zh=""),
        _row(7, tag="T0001"),  # an item's tag: an update, fine
    ]
    with sessions() as db:
        errors = ITEM_SHEET.check(db, rows)
        assert [(e.line, e.field) for e in errors] == [
            (3, "loan_days"),
            (4, "tag"),
            (5, "tag"),
            (6, "name_zh"),
        ]
        assert db.scalar(select(func.count()).select_from(Item)) == 10
    rows[1] = _row(3, loan_days="5", hut="nowhere")
    with sessions() as db:
        errors = ITEM_SHEET.check(db, rows)
        assert (3, "hut") in [(e.line, e.field) for e in errors]
        assert (6, "category") not in [(e.line, e.field) for e in errors]  # its name failed first


def test_write_upserts_by_tag_and_audits_each_change(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rows = [
        _row(2),
        _row(3, tag="T0001", name_zh="电钻", name_en="Power drill", category="power_tools"),
        _row(5, tag="T0003", name_zh="梯子", name_en="Step ladder", category="ladders"),
        _row(4, tag="T0002", name_zh="新冲击钻", name_en="Impact drill", category="power_tools"),
    ]
    with sessions.begin() as db:
        assert ITEM_SHEET.check(db, rows) == []
        assert ITEM_SHEET.write(db, rows, actor=ACTOR, now=T0) == 3
    with sessions() as db:
        drill = db.scalars(select(Item).where(Item.tag == "T0002")).one()
        assert drill.name_zh == "新冲击钻" and drill.version == 2
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "item.import")).all()
        # T0001 is as it was: no entry for it.
        assert sorted(e.entity_id for e in entries) == ["S00002", "T0002", "T0003"]
        owners = {e.entity_id: (e.before or {}).get("owner") for e in entries}
        assert owners["T0002"] == "幸福里物业"
        assert drill.owner is None  # the sheet says no owner: the row is the record


def test_an_export_imports_back_without_change(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    for sheet in (ITEM_SHEET, SUPPLY_SHEET):
        with sessions() as db:
            exported = list(sheet.export(db))
        assert exported and set(exported[0]) == {c.key for c in sheet.columns}
        rows = [
            SheetRow(n, {k: v for k, v in cells.items() if v})
            for n, cells in enumerate(exported, 2)
        ]
        with sessions.begin() as db:
            assert sheet.check(db, rows) == []
            assert sheet.write(db, rows, actor=ACTOR, now=T0) == 0
    with sessions() as db:
        assert db.scalars(select(Consumable.tag).order_by(Consumable.tag)).all() == [
            "C0001",
            "C0002",
            "C0003",
        ]


def test_a_supply_with_an_item_tag_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rows = [_row(2, tag="T0001", category="first_aid", min_quantity="3")]
    with sessions() as db:
        [error] = SUPPLY_SHEET.check(db, rows)
        assert (error.line, error.field) == (2, "tag")


def test_ten_thousand_rows_are_checked_in_a_few_statements_and_written(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rows = [_row(n, tag=f"B{n:05d}") for n in range(2, 10_002)]
    with sessions.begin() as db:
        with statements(engine) as seen:
            assert ITEM_SHEET.check(db, rows) == []
        assert len(seen) <= 20, seen  # bulk look-ups, not one per row (bench/import_rows.py)
        assert ITEM_SHEET.write(db, rows, actor=ACTOR, now=T0) == 10_000
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Item)) == 10_010


@pytest.mark.parametrize("sheet", [ITEM_SHEET, SUPPLY_SHEET], ids=["items", "supplies"])
def test_a_record_changed_since_the_export_is_not_overwritten(
    sessions: sessionmaker[Session], sheet: TagSheet
) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    with sessions() as db:
        old = run_export(db, sheet, Format.CSV)
    lines = old.decode("utf-8-sig").splitlines()
    tag = lines[2].split(",")[0]  # the second record
    with sessions.begin() as db:  # an edit through the API after the export
        record = db.scalars(select(sheet.model).where(sheet.model.tag == tag)).one()
        record.name_en = "Edited since"
        record.version += 1
        version = record.version

    def imported(data: bytes) -> ImportReport:
        with sessions.begin() as db:
            return run_import(db, sheet, data, "s.csv", dry_run=False, actor=ACTOR, now=T0)

    changed_old = old.decode("utf-8-sig").replace(lines[1], lines[1].replace(",", ",x", 1))
    report = imported(changed_old.encode())
    assert [(e.line, e.field) for e in report.errors] == [(3, "version")]
    assert f"now version {version}" in report.errors[0].reason and report.written == 0
    with sessions() as db:
        record = db.scalars(select(sheet.model).where(sheet.model.tag == tag)).one()
        assert record.name_en == "Edited since"
        first = db.scalars(select(sheet.model).where(sheet.model.tag == lines[1][:5])).one()
        assert not first.name_zh.startswith("x")  # all or nothing
    with sessions() as db:
        fresh = run_export(db, sheet, Format.CSV)
    assert imported(fresh).written == 0
    # Without the version column (a file typed by hand) the old rows go in as today.
    header, *rows = lines
    cut = [",".join(line.split(",")[:-1]) for line in (header, *rows)]
    assert header.endswith(",version")
    assert imported("\n".join(cut).encode()).written == 1


def test_a_bad_version_cell_is_named(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rows = [_row(2, tag="T0001", version="two"), _row(3, tag="T0002", version="0")]
    with sessions() as db:
        errors = ITEM_SHEET.check(db, rows)
    assert [(e.line, e.field) for e in errors] == [(2, "version"), (3, "version")]
