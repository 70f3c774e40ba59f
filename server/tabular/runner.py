"""The import and the export of one kind, whatever the kind: read the file, check every
row, write all of them or none; or every record out as CSV or .xlsx.

The caller owns the transaction: ``run_import`` writes inside a SAVEPOINT (a write that
fails rolls back every row and the audit entries with it) and never commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError, InvalidFieldsError
from server.storage import audit
from server.tabular.reading import FILE_FIELD, Limits, UnreadableFileError, read_table
from server.tabular.report import ImportReport
from server.tabular.spec import Sheet, SheetRow
from server.tabular.writing import Format, write_csv, write_xlsx
from toolhut.i18n import bilingual

Progress = Callable[[int, int], None]
"""``progress(done, total)`` in row steps: each row is checked, then written (a dry run
only checks), so an import of n rows counts to 2n."""

WRITE_CHUNK = 1000

TEXT_CONFLICT = bilingual(
    "the write met another change at the same time; nothing written, try again"
)


def run_import(
    db: Session,
    sheet: Sheet,
    data: bytes,
    filename: str,
    *,
    dry_run: bool,
    actor: Actor,
    now: datetime,
    progress: Progress | None = None,
    limits: Limits = Limits(),  # noqa: B008 (frozen)
) -> ImportReport:
    """Read and check every row of ``data``; unless it is a dry run or any row is bad,
    write them all and append one ``import.<kind>`` audit entry. Flushed, not committed."""
    tell = progress or (lambda done, total: None)

    def report(rows: int, errors: Sequence[FieldError], written: int = 0) -> ImportReport:
        return ImportReport.of(
            kind=sheet.kind,
            filename=filename,
            rows=rows,
            errors=errors,
            written=written,
            dry_run=dry_run,
        )

    try:
        table = read_table(data, filename, sheet.columns, kind=sheet.kind, limits=limits)
    except UnreadableFileError as exc:
        return report(0, exc.errors)
    rows = table.rows
    total = len(rows) if dry_run else 2 * len(rows)
    tell(0, total)
    errors = [*table.errors, *sheet.check(db, rows)]
    tell(len(rows), total)
    if errors or dry_run:
        return report(len(rows), errors)
    try:
        written = _write(db, sheet, rows, actor=actor, now=now, tell=lambda n: tell(n, total))
    except InvalidFieldsError as exc:  # what changed between the check and the write
        return report(len(rows), exc.errors)
    except IntegrityError:
        return report(len(rows), [FieldError(FILE_FIELD, TEXT_CONFLICT)])
    audit.record(
        db,
        actor=actor,
        action=f"import.{sheet.kind}",
        entity=sheet.kind,
        entity_id=filename,
        at=now,
        after={"filename": filename, "rows": len(rows), "written": written},
    )
    db.flush()
    return report(len(rows), [], written)


def _write(
    db: Session,
    sheet: Sheet,
    rows: Sequence[SheetRow],
    *,
    actor: Actor,
    now: datetime,
    tell: Callable[[int], None],
) -> int:
    written = 0
    with db.begin_nested():
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start : start + WRITE_CHUNK]
            written += sheet.write(db, chunk, actor=actor, now=now)
            tell(len(rows) + start + len(chunk))
        db.flush()
    return written


def run_export(db: Session, sheet: Sheet, fmt: Format) -> bytes:
    """Every record of the sheet's kind as a file that imports back unchanged."""
    records = sheet.export(db)
    if fmt is Format.CSV:
        return write_csv(sheet.columns, records)
    return write_xlsx(sheet.columns, records, title=sheet.kind)
