"""A spreadsheet file as a kind's rows: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030 as Excel
and WPS save it on a Chinese Windows, comma, tab or semicolon) or .xlsx.

``read_table`` returns the header's column keys and each non-empty row's cells by key, with
its line as a spreadsheet program numbers it (the header is the first non-empty row). What
makes the rows meaningless (an encoding it cannot tell, an unknown or missing column, too
big a file) raises ``UnreadableFileError`` with every such problem named."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

from server.domain.record_errors import FieldError, InvalidFieldsError
from server.tabular.formulas import unprotect
from server.tabular.spec import Column, SheetRow
from toolhut.i18n import bilingual

FILE_FIELD = "file"  # the field a problem of the whole file is reported on

TEXT_TOO_LARGE = bilingual("the file is too large (at most {limit})")
TEXT_TOO_MANY_ROWS = bilingual("too many rows (at most {limit})")
TEXT_EMPTY = bilingual("the file has no rows")
TEXT_ENCODING = bilingual("cannot tell the file's encoding: save it as UTF-8 CSV or .xlsx")
TEXT_NOT_TEXT = bilingual("this is not a text or spreadsheet file")
TEXT_OLD_XLS = bilingual("old .xls files are not read: save as .xlsx or CSV")
TEXT_BAD_XLSX = bilingual("cannot read this .xlsx file")
TEXT_UNPACKS_TOO_LARGE = bilingual("the file unpacks to too much data (at most {limit})")
TEXT_TOO_MANY_PARTS = bilingual("the file holds too many parts (at most {limit})")
TEXT_BAD_CSV = bilingual("cannot read this CSV file: {problem}")
TEXT_UNKNOWN_COLUMN = bilingual("unknown column")
TEXT_DUPLICATE_COLUMN = bilingual("the column appears twice")
TEXT_MISSING_COLUMN = bilingual("a required column is missing")
TEXT_NO_HEADING = bilingual("a value in a column without a heading")

# An .xlsx is a zip: a small upload may unpack to gigabytes (a "zip bomb"), so what its
# entries say they unpack to is summed before openpyxl opens it. Python's zipfile never
# gives more than an entry's stated size (it stops there, and the CRC fails), so a
# stated size that lies makes a broken file, not a bigger one.
MAX_UNPACKED_BYTES = 50 * 2**20
MAX_ZIP_ENTRIES = 10_000
SHOWN_CHARS = 64  # at most this much of a cell's text is echoed in an error

DELIMITERS = (",", "\t", ";")
# Every Chinese guess of charset-normalizer that means a GB encoding: GB18030 decodes all
# of GB2312 and GBK (what Excel and WPS write on a Chinese Windows), so it is used for all.
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "hz", "cp936"})
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and other old Office files)


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 50_000
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES  # an .xlsx's entries, unpacked
    max_entries: int = MAX_ZIP_ENTRIES


@dataclass(frozen=True, slots=True)
class Table:
    """``columns``: the file's column keys in its order; ``errors``: values in a column
    without a heading (reported beside the sheet's own checks); ``encoding``: the CSV's
    (None for .xlsx)."""

    columns: tuple[str, ...]
    rows: list[SheetRow]
    errors: list[FieldError] = field(default_factory=list)
    encoding: str | None = None


class UnreadableFileError(InvalidFieldsError):
    """The file cannot be read as this kind's rows; every reason is named (on the field
    ``file``, or on the header's line for its columns)."""


class FileTooLargeError(UnreadableFileError):
    """More bytes than the limit (the API answers 413)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__([FieldError(FILE_FIELD, too_large(limits))])


def too_large(limits: Limits) -> str:
    """The reason a file over ``limits.max_bytes`` is refused."""
    return TEXT_TOO_LARGE.format(limit=_size(limits.max_bytes))


def _size(size: int) -> str:
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size / 2**10:g} KB"


def shown(text: str) -> str:
    """``text`` as an error may echo it: at most SHOWN_CHARS characters."""
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _refused(reason: str) -> UnreadableFileError:
    return UnreadableFileError([FieldError(FILE_FIELD, reason)])


def read_table(
    data: bytes,
    filename: str,
    columns: Sequence[Column],
    *,
    kind: str,
    limits: Limits = Limits(),  # noqa: B008 (frozen)
) -> Table:
    """The rows of ``data`` (a file called ``filename``) for a sheet of ``columns``."""
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(limits)
    suffix = PurePath(filename).suffix.casefold()
    if data.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise _refused(TEXT_OLD_XLS)
    if data.startswith(_ZIP_MAGIC) or suffix in (".xlsx", ".xlsm"):
        _refuse_zip_bomb(data, limits)
        return _table(_xlsx_lines(data, kind), columns, limits, encoding=None)
    text, encoding = decode_csv(data)
    return _table(_csv_lines(text), columns, limits, encoding=encoding)


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in: a BOM's, else UTF-8 if it
    is valid UTF-8, else charset-normalizer's guess, GB18030 among the Chinese ones."""
    if data.startswith(codecs.BOM_UTF8):
        return _decoded(data, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decoded(data, "utf-16")  # Excel's "Unicode text"
    try:
        return _checked(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    guesses = from_bytes(data)
    names = {name for match in guesses for name in (match.encoding, *match.could_be_from_charset)}
    if names & _GB_FAMILY:
        return _decoded(data, "gb18030")
    best = guesses.best()
    if best is None:
        raise _refused(TEXT_ENCODING)
    return _decoded(data, best.encoding)


def _decoded(data: bytes, encoding: str) -> tuple[str, str]:
    try:
        return _checked(data.decode(encoding)), encoding
    except UnicodeDecodeError as exc:
        raise _refused(TEXT_ENCODING) from exc


def _checked(text: str) -> str:
    if "\x00" in text:
        raise _refused(TEXT_NOT_TEXT)
    return text


def sniff_delimiter(text: str) -> str:
    """The delimiter the header line uses most (comma when it uses none)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise _refused(TEXT_BAD_CSV.format(problem=exc)) from exc


def _refuse_zip_bomb(data: bytes, limits: Limits) -> None:
    """Refuse an .xlsx whose entries are too many or unpack to more than the limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _refused(TEXT_BAD_XLSX) from exc
    if len(entries) > limits.max_entries:
        raise _refused(TEXT_TOO_MANY_PARTS.format(limit=limits.max_entries))
    if sum(entry.file_size for entry in entries) > limits.max_unpacked_bytes:
        raise _refused(TEXT_UNPACKS_TOO_LARGE.format(limit=_size(limits.max_unpacked_bytes)))


def _xlsx_lines(data: bytes, kind: str) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to open an uploaded file is one answer
        raise _refused(TEXT_BAD_XLSX) from exc
    try:
        sheets = book.worksheets
        if not sheets:
            raise _refused(TEXT_EMPTY)
        named = [s for s in sheets if _normal(s.title) == _normal(kind)]
        sheet = named[0] if named else sheets[0]
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [cell_text(v) for v in values]
        except Exception as exc:  # noqa: BLE001 - a broken sheet inside a valid zip
            raise _refused(TEXT_BAD_XLSX) from exc
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """An .xlsx cell as the text a CSV would hold: whole numbers without ``.0``, dates
    and times in ISO form, nothing for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _normal(heading: str) -> str:
    return "".join(heading.split()).casefold()


def _table(
    lines: Iterable[tuple[int, list[str]]],
    columns: Sequence[Column],
    limits: Limits,
    *,
    encoding: str | None,
) -> Table:
    numbered = iter(lines)
    header = next(((n, cells) for n, cells in numbered if any(c.strip() for c in cells)), None)
    if header is None:
        raise _refused(TEXT_EMPTY)
    header_line, headings = header
    keys = _header_keys(header_line, headings, columns)
    rows: list[SheetRow] = []
    errors: list[FieldError] = []
    for line, cells in numbered:
        values: dict[str, str] = {}
        for index, raw in enumerate(cells):
            cell = raw.strip()
            if not cell:
                continue
            key = keys[index] if index < len(keys) else None
            if key is None:
                errors.append(FieldError(_column_name(index), TEXT_NO_HEADING, line))
            else:
                values[key] = unprotect(cell)
        if not values and not any(c.strip() for c in cells):
            continue
        if len(rows) == limits.max_rows:
            raise _refused(TEXT_TOO_MANY_ROWS.format(limit=limits.max_rows))
        rows.append(SheetRow(line, values))
    return Table(tuple(k for k in keys if k is not None), rows, errors, encoding)


def _header_keys(line: int, headings: list[str], columns: Sequence[Column]) -> list[str | None]:
    """Each header cell's column key (None for an empty cell); every unknown, repeated or
    missing column is an error on the header's line."""
    by_heading: dict[str, str] = {}
    for column in columns:
        for name in (column.key, column.zh, column.en):
            by_heading.setdefault(_normal(name), column.key)
    keys: list[str | None] = []
    errors: list[FieldError] = []
    for heading in headings:
        text = heading.strip()
        key = by_heading.get(_normal(text)) if text else None
        if text and key is None:
            errors.append(FieldError(shown(text), TEXT_UNKNOWN_COLUMN, line))
        elif key is not None and key in keys:
            errors.append(FieldError(shown(text), TEXT_DUPLICATE_COLUMN, line))
            key = None
        keys.append(key)
    errors.extend(
        FieldError(c.key, TEXT_MISSING_COLUMN, line)
        for c in columns
        if c.required and c.key not in keys
    )
    if errors:
        raise UnreadableFileError(errors)
    return keys


def _column_name(index: int) -> str:
    """A column's letters as spreadsheets name it (0 -> A, 26 -> AA)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name
