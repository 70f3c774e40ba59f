"""The import engine on real databases: all rows or none, every bad row reported, a dry
run writes nothing, the export imports back unchanged, formulas are defused."""

from __future__ import annotations

import codecs
import io
from collections.abc import Sequence
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.storage.models import ItemCategory
from server.storage.staff_models import AuditEntry
from server.tabular.report import ImportReport
from server.tabular.runner import run_export, run_import
from server.tabular.spec import SheetRow
from server.tabular.writing import Format
from tests.server.conftest import T0
from tests.support.category_sheet import CategorySheet

SHEET = CategorySheet()
ACTOR = Actor("tester")
HEADER = "key,name_zh,name_en,loan_days,max_renewals\n"
GOOD = [
    "t_drill,电钻,drill,7,1",
    "t_ladder,梯子,ladder,3,0",
    "t_saw,锯子,saw,5,2",
    "t_first_aid,急救包,first aid,2,0",
    "t_pump,打气筒,pump,1,1",
]


def imported(
    sessions: sessionmaker[Session], data: bytes, *, dry_run: bool = False, name: str = "c.csv"
) -> ImportReport:
    with sessions() as db:
        report = run_import(db, SHEET, data, name, dry_run=dry_run, actor=ACTOR, now=T0)
        db.commit()
    return report


def ours(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str, int, int]]:
    with sessions() as db:
        rows = db.scalars(select(ItemCategory).where(ItemCategory.key.startswith("t_")))
        return {c.key: (c.name_zh, c.name_en, c.loan_days, c.max_renewals) for c in rows}


def audit_actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_clean_file_is_written_with_one_import_entry_and_one_per_record(
    sessions: sessionmaker[Session],
) -> None:
    report = imported(sessions, (HEADER + "\n".join(GOOD)).encode())
    assert (report.ok, report.rows, report.written, report.dry_run) == (True, 5, 5, False)
    assert ours(sessions)["t_drill"] == ("电钻", "drill", 7, 1)
    assert len(ours(sessions)) == 5
    assert audit_actions(sessions) == ["category.import"] * 5 + ["import.categories"]
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "import.categories")).one()
    assert (entry.actor, entry.entity_id) == ("tester", "c.csv")
    assert entry.after == {"filename": "c.csv", "rows": 5, "written": 5}


def test_bad_rows_in_the_middle_write_nothing_and_each_is_reported(
    sessions: sessionmaker[Session],
) -> None:
    lines = list(GOOD)
    lines[1] = "t_ladder,梯子,ladder,0,0"  # line 3: loan days out of range
    lines[3] = "T FIRST,,first aid,2,x"  # line 5: key, name_zh and renewals
    report = imported(sessions, (HEADER + "\n".join(lines)).encode())
    assert not report.ok and report.written == 0 and report.rows == 5
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "loan_days"),
        (5, "key"),
        (5, "max_renewals"),
        (5, "name_zh"),
    ]
    assert ours(sessions) == {}
    assert audit_actions(sessions) == []


def test_a_dry_run_checks_every_row_and_writes_nothing(sessions: sessionmaker[Session]) -> None:
    report = imported(sessions, (HEADER + "\n".join(GOOD)).encode(), dry_run=True)
    assert (report.ok, report.rows, report.written, report.dry_run) == (True, 5, 0, True)
    assert ours(sessions) == {}
    assert audit_actions(sessions) == []


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("gbk"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.replace(",", "\t").encode("utf-8"),
    ],
    ids=["gbk", "utf-8-bom", "tabs"],
)
def test_gbk_bom_and_tab_files_import_their_chinese_text(
    sessions: sessionmaker[Session], encode: object
) -> None:
    heading = "类别代码,中文名称,英文名称,借期天数,续借次数\n"
    report = imported(sessions, encode(heading + "\n".join(GOOD)))  # type: ignore[operator]
    assert report.ok, report.errors
    assert ours(sessions)["t_first_aid"] == ("急救包", "first aid", 2, 0)


class FailingSheet(CategorySheet):
    """Writes its first chunk, then refuses (a record changed between check and write)."""

    def write(self, db: Session, rows: Sequence[SheetRow], *, actor: Actor, now: datetime) -> int:
        if any(row.values["key"] == "t_pump" for row in rows):
            from server.domain.record_errors import FieldError, InvalidFieldsError

            raise InvalidFieldsError([FieldError("key", "taken meanwhile", rows[-1].line)])
        return super().write(db, rows, actor=actor, now=now)


def test_a_write_that_fails_half_way_rolls_every_row_back(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.tabular.runner.WRITE_CHUNK", 2)  # chunks: 2, 2, then t_pump
    with sessions() as db:
        db.add(ItemCategory(key="t_before", name_zh="先", name_en="before", loan_days=1,
                            max_renewals=0, max_per_member=1, hold_hours=1))  # fmt: skip
        data = (HEADER + "\n".join(GOOD)).encode()
        report = run_import(db, FailingSheet(), data, "c.csv", dry_run=False, actor=ACTOR, now=T0)
        db.commit()  # what the caller does: the rows before the failure must not be in it
    assert [(e.line, e.field, e.reason) for e in report.errors] == [(6, "key", "taken meanwhile")]
    assert report.written == 0
    assert list(ours(sessions)) == ["t_before"]
    assert audit_actions(sessions) == []


def test_progress_counts_each_row_checked_then_written(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.tabular.runner.WRITE_CHUNK", 2)
    calls: list[tuple[int, int]] = []
    with sessions() as db:
        data = (HEADER + "\n".join(GOOD)).encode()
        run_import(db, SHEET, data, "c.csv", dry_run=False, actor=ACTOR, now=T0,
                   progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls == [(0, 10), (5, 10), (7, 10), (9, 10), (10, 10)]


@pytest.mark.parametrize("fmt", list(Format))
def test_export_then_import_changes_nothing(sessions: sessionmaker[Session], fmt: Format) -> None:
    assert imported(sessions, (HEADER + "\n".join(GOOD)).encode()).ok
    with sessions() as db:
        before = db.scalar(select(func.count()).select_from(AuditEntry))
        exported = run_export(db, SHEET, fmt)
    again = imported(sessions, exported, name=f"categories.{fmt.value}")
    assert again.ok, again.errors
    assert again.written == 0  # every record was already so
    with sessions() as db:
        after = db.scalar(select(func.count()).select_from(AuditEntry))
        assert run_export(db, SHEET, Format.CSV) == run_export(db, SHEET, Format.CSV)
    assert after == (before or 0) + 1  # the import's own entry only
    assert len(ours(sessions)) == 5


def test_exports_defuse_formulas_and_import_them_back_as_text(
    sessions: sessionmaker[Session],
) -> None:
    evil = 't_evil,"=HYPERLINK(""http://x"",""点我"")",@SUM(A1),4,0'
    assert imported(sessions, (HEADER + evil).encode()).ok
    with sessions() as db:
        csv_bytes = run_export(db, SHEET, Format.CSV)
        xlsx_bytes = run_export(db, SHEET, Format.XLSX)
    assert csv_bytes.startswith(codecs.BOM_UTF8)
    text = csv_bytes.decode("utf-8-sig")
    assert "'=HYPERLINK(" in text and "'@SUM(A1)" in text
    sheet = load_workbook(io.BytesIO(xlsx_bytes)).active
    assert sheet is not None
    cells = {cell.value for row in sheet.iter_rows() for cell in row}
    assert "'@SUM(A1)" in cells
    assert not any(str(v).startswith(("=", "@")) for v in cells)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    # and back: the same text, not a formula and not an apostrophe
    assert imported(sessions, xlsx_bytes, name="c.xlsx").ok
    assert ours(sessions)["t_evil"][:2] == ('=HYPERLINK("http://x","点我")', "@SUM(A1)")


def test_an_unreadable_file_is_one_report_with_the_reason(sessions: sessionmaker[Session]) -> None:
    report = imported(sessions, b"key;nope\n1;2\n")
    assert not report.ok and report.rows == 0
    assert {e.field for e in report.errors} >= {"nope", "name_zh"}
    assert "行 / line" in report.table() and "nothing written" in report.table()
