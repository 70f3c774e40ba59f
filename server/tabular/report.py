"""What an import says back, row by row: JSON for the API, a table for the command line."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from pydantic import BaseModel

from server.domain.record_errors import FieldError
from toolhut.i18n import bilingual

TEXT_LINE = bilingual("line")
TEXT_FIELD = bilingual("field")
TEXT_REASON = bilingual("reason")
TEXT_WRITTEN = bilingual("imported: {rows} rows, {written} records changed")
TEXT_DRY_RUN_OK = bilingual("dry run: all {rows} rows are fine, nothing written")
TEXT_REFUSED = bilingual("{count} problems, nothing written")
TEXT_FILE = "{kind}：{filename} / {kind}: {filename}"


class RowError(BaseModel):
    """``line`` is the spreadsheet's row number (None: the whole file)."""

    line: int | None
    field: str
    reason: str


class ImportReport(BaseModel):
    """``rows``: the data rows read; ``written``: the records the import changed (0 for a
    dry run and whenever ``errors`` is not empty: then nothing at all was written)."""

    kind: str
    filename: str
    rows: int
    errors: list[RowError]
    written: int
    dry_run: bool

    @classmethod
    def of(
        cls,
        *,
        kind: str,
        filename: str,
        rows: int,
        errors: Iterable[FieldError],
        written: int,
        dry_run: bool,
    ) -> ImportReport:
        ordered = sorted(errors, key=lambda e: (e.line or 0, e.field))
        return cls(
            kind=kind,
            filename=filename,
            rows=rows,
            errors=[RowError(line=e.line, field=e.field, reason=e.reason) for e in ordered],
            written=written,
            dry_run=dry_run,
        )

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.errors:
            return TEXT_REFUSED.format(count=len(self.errors))
        if self.dry_run:
            return TEXT_DRY_RUN_OK.format(rows=self.rows)
        return TEXT_WRITTEN.format(rows=self.rows, written=self.written)

    def table(self) -> str:
        """The report as a person reads it in a terminal: the file, every problem in a
        table (line, field, reason), the outcome."""
        out = [TEXT_FILE.format(kind=self.kind, filename=self.filename)]
        if self.errors:
            cells = [(TEXT_LINE, TEXT_FIELD, TEXT_REASON)] + [
                ("" if e.line is None else str(e.line), e.field, e.reason) for e in self.errors
            ]
            widths = [max(_width(row[i]) for row in cells) for i in range(2)]
            for line, field, reason in cells:
                out.append(f"{_pad(line, widths[0])}  {_pad(field, widths[1])}  {reason}")
        out.append(self.summary())
        return "\n".join(out)


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
