"""Reading spreadsheet files: encodings Excel and WPS write, delimiters, .xlsx cells, the
header's three spellings, limits; no database."""

from __future__ import annotations

import codecs
import io
import tracemalloc
import zipfile
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import Workbook

from server.tabular.formulas import protect, unprotect
from server.tabular.reading import (
    MAX_ZIP_ENTRIES,
    SHOWN_CHARS,
    FileTooLargeError,
    Limits,
    Table,
    UnreadableFileError,
    read_table,
    sniff_delimiter,
)
from tests.support.category_sheet import CategorySheet

SHEET = CategorySheet()
ROWS = "key,name_zh,name_en,loan_days\nhand,手动工具,hand tools,7\nladder,梯子与脚凳,ladders,3\n"


def read(data: bytes, filename: str = "categories.csv", **kw: Any) -> Table:
    return read_table(data, filename, SHEET.columns, kind=SHEET.kind, **kw)


def expected_rows(table: Table) -> None:
    assert [(r.line, r.values) for r in table.rows] == [
        (2, {"key": "hand", "name_zh": "手动工具", "name_en": "hand tools", "loan_days": "7"}),
        (3, {"key": "ladder", "name_zh": "梯子与脚凳", "name_en": "ladders", "loan_days": "3"}),
    ]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (ROWS.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), "utf-8-sig"),
        (ROWS.encode("gbk"), "gb18030"),
        (ROWS.encode("gb18030"), "gb18030"),
        (codecs.BOM_UTF16_LE + ROWS.replace(",", "\t").encode("utf-16-le"), "utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "gb18030", "utf-16-tabs"],
)
def test_csv_encodings_excel_and_wps_write_are_read(data: bytes, encoding: str) -> None:
    table = read(data)
    assert table.encoding == encoding
    expected_rows(table)


def test_a_short_gbk_file_is_not_taken_for_korean() -> None:
    # charset-normalizer's best guess for these bytes is cp949; GB18030 is among its guesses.
    data = "key,name_zh,name_en,loan_days\nhand,电钻,drill,7\n".encode("gbk")
    assert read(data).rows[0].values["name_zh"] == "电钻"


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_the_delimiter_is_sniffed(delimiter: str) -> None:
    expected_rows(read(ROWS.replace(",", delimiter).encode()))
    assert sniff_delimiter(ROWS.replace(",", delimiter)) == delimiter


def test_quoted_cells_keep_their_delimiters_and_line_breaks() -> None:
    data = 'key,name_zh,name_en,loan_days\nhand,"手动,工具","hand\ntools",7\n'.encode()
    table = read(data)
    assert table.rows[0].values["name_zh"] == "手动,工具"
    assert table.rows[0].values["name_en"] == "hand\ntools"


def test_chinese_and_english_headings_case_and_spaces_aside() -> None:
    data = "类别代码, ENGLISH  name ,中文名称,LoanDays\nhand,hand tools,手动工具,7\n".encode()
    table = read(data)
    assert table.columns == ("key", "name_en", "name_zh", "loan_days")
    assert table.rows[0].values == {
        "key": "hand", "name_en": "hand tools", "name_zh": "手动工具", "loan_days": "7"
    }  # fmt: skip


def test_unknown_repeated_and_missing_columns_are_errors_on_the_header_line() -> None:
    data = "key,名称,key,remarks\nhand,x,y,z\n".encode()
    with pytest.raises(UnreadableFileError) as caught:
        read(data)
    found = {(e.line, e.field, e.reason.split(" / ")[1]) for e in caught.value.errors}
    assert found == {
        (1, "名称", "unknown column"),
        (1, "key", "the column appears twice"),
        (1, "remarks", "unknown column"),
        (1, "name_zh", "a required column is missing"),
        (1, "name_en", "a required column is missing"),
        (1, "loan_days", "a required column is missing"),
    }


def test_empty_rows_are_skipped_and_lines_count_them() -> None:
    data = "\n,,,\nkey,name_zh,name_en,loan_days\n\n,,,\n  hand , 手动工具 ,hand, 7 \n".encode()
    table = read(data)
    assert [(r.line, r.values["key"], r.values["loan_days"]) for r in table.rows] == [
        (6, "hand", "7")
    ]


def test_a_value_under_no_heading_is_reported_with_its_column() -> None:
    data = "key,name_zh,name_en,loan_days\nhand,手动工具,hand tools,7,,oops\n".encode()
    table = read(data)
    assert [(e.line, e.field) for e in table.errors] == [(2, "F")]


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 8, b"key,name\x00,x\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64],
    ids=["binary", "nul", "old-xls"],
)
def test_what_is_no_spreadsheet_is_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        read(data)
    assert [e.field for e in caught.value.errors] == ["file"]
    assert " / " in caught.value.errors[0].reason


def test_a_broken_xlsx_is_refused() -> None:
    with pytest.raises(UnreadableFileError):
        read(b"PK\x03\x04 not really a zip", "categories.xlsx")


def test_the_size_and_row_limits() -> None:
    with pytest.raises(FileTooLargeError):
        read(ROWS.encode(), limits=Limits(max_bytes=20))
    assert "at most 10 MB" in FileTooLargeError(Limits()).errors[0].reason
    assert len(read(ROWS.encode(), limits=Limits(max_rows=2)).rows) == 2
    with pytest.raises(UnreadableFileError) as caught:
        read(ROWS.encode(), limits=Limits(max_rows=1))
    assert "at most 1" in caught.value.errors[0].reason


def xlsx(rows: list[list[Any]], *, title: str = "Sheet", first: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if first is not None:
        sheet.title = first
        sheet.append(["unrelated"])
        sheet = book.create_sheet(title)
    else:
        sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _bomb(data: bytes, megabytes: int) -> bytes:
    """``data`` (an .xlsx openpyxl wrote, its cells inline) with its first heading moved
    to a sharedStrings.xml part, followed by ``megabytes`` MB of one letter, deflated (in
    pieces: the test never holds it whole)."""
    ns = "http://schemas.openxmlformats.org"
    edits = {
        "[Content_Types].xml": (
            "</Types>",
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>',
        ),
        "xl/_rels/workbook.xml.rels": (
            "</Relationships>",
            f'<Relationship Type="{ns}/officeDocument/2006/relationships/sharedStrings" '
            'Target="sharedStrings.xml" Id="rId9" /></Relationships>',
        ),
        "xl/worksheets/sheet1.xml": (
            '<c r="A1" t="inlineStr"><is><t>key</t></is></c>',
            '<c r="A1" t="s"><v>0</v></c>',
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            text = source.read(entry).decode()
            if entry.filename in edits:
                old, new = edits[entry.filename]
                assert old in text
                text = text.replace(old, new)
            target.writestr(entry.filename, text, zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo("xl/sharedStrings.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with target.open(info, "w", force_zip64=True) as part:
            part.write(f'<sst xmlns="{ns}/spreadsheetml/2006/main" count="1">'.encode())
            part.write(b"<si><t>key")
            for _ in range(megabytes):
                part.write(b"A" * 2**20)
            part.write(b"</t></si></sst>")
    return out.getvalue()


def test_an_xlsx_that_unpacks_to_too_much_is_refused_before_it_is_opened() -> None:
    rows = [["key", "name_zh", "name_en", "loan_days"], ["hand", "手动工具", "hand", 7]]
    harmless = _bomb(xlsx(rows), 0)  # the same file with its heading in sharedStrings.xml
    assert read(harmless, "categories.xlsx").rows[0].values["name_zh"] == "手动工具"
    bomb = _bomb(xlsx(rows), 300)
    assert len(bomb) < 1_000_000  # 300 MB of text in well under 1 MB
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableFileError) as caught:
            read(bomb, "categories.xlsx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # refused before the 300 MB were unpacked
    [error] = caught.value.errors
    assert error.field == "file" and "unpacks" in error.reason and "50 MB" in error.reason
    assert " / " in error.reason


def test_an_xlsx_of_too_many_parts_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n in range(MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"x/{n}.xml", b"")
    with pytest.raises(UnreadableFileError) as caught:
        read(out.getvalue(), "categories.xlsx")
    [error] = caught.value.errors
    assert error.field == "file" and "too many parts" in error.reason


def test_a_huge_heading_is_echoed_cut_short() -> None:
    data = ("key,name_zh,name_en,loan_days," + "标" * 100_000 + "\nhand,手动,hand,7\n").encode()
    with pytest.raises(UnreadableFileError) as caught:
        read(data)
    [error] = caught.value.errors
    assert len(error.field) == SHOWN_CHARS and error.field == "标" * (SHOWN_CHARS - 1) + "…"
    assert "unknown column" in error.reason
    heading = "x" * SHOWN_CHARS  # as long as may be shown: shown whole
    with pytest.raises(UnreadableFileError) as caught:
        read(f"key,name_zh,name_en,loan_days,{heading}\n".encode())
    assert caught.value.errors[0].field == heading


def test_xlsx_cells_become_the_text_a_csv_would_hold() -> None:
    data = xlsx(
        [
            ["Category key", "中文名称", "English name", "借期天数", "续借次数", "hold_hours"],
            ["hand", "手动工具", 13800138000, 7.0, 1.5, datetime(2026, 3, 1)],
            [None, None, None, None, None, None],
            ["power", "电动工具", date(2026, 3, 2), 14, None, datetime(2026, 3, 1, 9, 30)],
        ]
    )
    table = read(data, "export.xlsx")
    assert table.encoding is None
    assert [(r.line, r.values) for r in table.rows] == [
        (2, {"key": "hand", "name_zh": "手动工具", "name_en": "13800138000", "loan_days": "7",
             "max_renewals": "1.5", "hold_hours": "2026-03-01"}),
        (4, {"key": "power", "name_zh": "电动工具", "name_en": "2026-03-02", "loan_days": "14",
             "hold_hours": "2026-03-01T09:30:00"}),
    ]  # fmt: skip


def test_xlsx_reads_the_sheet_named_like_the_kind_else_the_first() -> None:
    rows = [["key", "name_zh", "name_en", "loan_days"], ["hand", "手动工具", "hand", 7]]
    assert read(xlsx(rows, title="Categories", first="Notes"), "x.xlsx").rows[0].line == 2
    with pytest.raises(UnreadableFileError):  # the first sheet's header is "unrelated"
        read(xlsx(rows, title="Other", first="Notes"), "x.xlsx")


@pytest.mark.parametrize(
    "text", ["=1+1", "+86 138", "-5", "@SUM(A1)", "'=already", "'", "plain", "", "'hand"]
)
def test_formula_protection_round_trips(text: str) -> None:
    guarded = protect(text)
    assert not guarded.startswith(("=", "+", "-", "@"))
    assert unprotect(guarded) == text


def test_a_guarded_cell_is_read_without_its_apostrophe() -> None:
    data = b"key,name_zh,name_en,loan_days\nhand,'=HYPERLINK(1),'-x,7\n"
    values = read(data).rows[0].values
    assert (values["name_zh"], values["name_en"]) == ("=HYPERLINK(1)", "-x")
