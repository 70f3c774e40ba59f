"""Rows out as a file Excel and WPS open right: CSV in UTF-8 with a BOM (without one they
read it as GBK and show mojibake), or .xlsx; every cell guarded against formulas, the
header made of the column keys, so the file imports back as it is."""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Sequence

from server.tabular.formulas import protect
from server.tabular.spec import Column


class Format(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        if self is Format.CSV:
            return "text/csv; charset=utf-8"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _lines(columns: Sequence[Column], records: Iterable[dict[str, str]]) -> Iterable[list[str]]:
    keys = [c.key for c in columns]
    yield keys
    for record in records:
        yield [protect(record.get(key, "")) for key in keys]


def write_csv(columns: Sequence[Column], records: Iterable[dict[str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(_lines(columns, records))
    return out.getvalue().encode("utf-8-sig")


def write_xlsx(
    columns: Sequence[Column], records: Iterable[dict[str, str]], *, title: str
) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])  # Excel's limit on a sheet's name
    for line in _lines(columns, records):
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
