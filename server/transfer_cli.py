"""``toolhut server import KIND FILE`` and ``toolhut server export KIND FILE``: the
spreadsheet import and export from the server's own machine, audited as ``cli:<user>``.

The import shows a progress bar on stderr, prints the report (every bad row's line, field
and reason) and exits 1 when any row is bad (then nothing is written). Heavy imports wait
until a command runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolhut.i18n import bilingual

SettingsOf = Callable[[argparse.Namespace], Any]

TEXT_UNKNOWN_KIND = bilingual("no such kind: {kind} (known: {known})")
TEXT_CANNOT_READ = bilingual("cannot read {path}: {problem}")
TEXT_CANNOT_WRITE = bilingual("cannot write {path}: {problem}")
TEXT_NO_DATABASE = bilingual(
    "cannot use the database ({problem}): run `toolhut server migrate` first?"
)
TEXT_PROGRESS = bilingual("checking and writing")
TEXT_EXPORTED = bilingual("exported {kind} to {path} ({size} bytes)")


def add_commands(
    actions: Any, *, add_db: Callable[[argparse.ArgumentParser], None], settings: SettingsOf
) -> None:
    """The import and export subcommands under ``toolhut server``."""
    imports = actions.add_parser(
        "import",
        help="import items, supplies or members from CSV or .xlsx (all rows or none)",
        description="Reads CSV (UTF-8, UTF-8 with BOM or GBK; comma, tab or semicolon) or "
        ".xlsx, checks every row and writes them all, or none if any is bad. Prints every "
        "bad row's line, field and reason; exits 1 if there is one.",
    )
    add_db(imports)
    imports.add_argument("kind", metavar="KIND", help="what the file holds (items, members ...)")
    imports.add_argument("file", metavar="FILE", type=Path, help="the .csv or .xlsx file")
    imports.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imports.set_defaults(run=lambda args: run_import(args, settings(args)))
    exports = actions.add_parser(
        "export", help="export every record of a kind as CSV or .xlsx (imports back as is)"
    )
    add_db(exports)
    exports.add_argument("kind", metavar="KIND", help="items, supplies, members ...")
    exports.add_argument("file", metavar="FILE", help="the file to write; - for stdout")
    exports.add_argument(
        "--format", choices=("csv", "xlsx"), help="default: from FILE's suffix, else csv"
    )
    exports.set_defaults(run=lambda args: run_export(args, settings(args)))


def _sheet(kind: str) -> Any:
    from server.tabular import sheets

    known = sheets.registry()
    if kind not in known:
        shown = ", ".join(sorted(known)) or "-"
        print(TEXT_UNKNOWN_KIND.format(kind=kind, known=shown), file=sys.stderr)
    return known.get(kind)


def run_import(args: argparse.Namespace, settings: Any) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from tqdm import tqdm

    from server.clock import system_clock
    from server.domain.actors import Actor
    from server.storage import make_engine, make_sessionmaker
    from server.tabular.reading import Limits
    from server.tabular.runner import run_import as import_rows

    sheet = _sheet(args.kind)
    if sheet is None:
        return 2
    limits = Limits()
    path: Path = args.file
    try:
        with path.open("rb") as file:
            data = file.read(limits.max_bytes + 1)  # more is refused by the import
    except OSError as exc:
        print(TEXT_CANNOT_READ.format(path=path, problem=exc.strerror), file=sys.stderr)
        return 2
    engine = make_engine(settings.db_url)
    bars: list[Any] = []  # made at the first call, when the total is known

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc=TEXT_PROGRESS, total=total, unit="row", file=sys.stderr))
        bars[0].update(done - bars[0].n)

    try:
        with make_sessionmaker(engine)() as db:
            report = import_rows(
                db,
                sheet,
                data,
                path.name,
                dry_run=args.dry_run,
                actor=Actor.cli(),
                now=system_clock(),
                progress=progress,
                limits=limits,
            )
            if report.ok and not args.dry_run:
                db.commit()
    except SQLAlchemyError as exc:
        print(TEXT_NO_DATABASE.format(problem=type(exc).__name__), file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
        engine.dispose()
    print(report.table())
    return 0 if report.ok else 1


def run_export(args: argparse.Namespace, settings: Any) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from server.storage import make_engine, make_sessionmaker
    from server.tabular.runner import run_export as export_rows
    from server.tabular.writing import Format

    sheet = _sheet(args.kind)
    if sheet is None:
        return 2
    fmt = Format(args.format or ("xlsx" if str(args.file).lower().endswith(".xlsx") else "csv"))
    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as db:
            body = export_rows(db, sheet, fmt)
    except SQLAlchemyError as exc:
        print(TEXT_NO_DATABASE.format(problem=type(exc).__name__), file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.file == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    try:
        Path(args.file).write_bytes(body)
    except OSError as exc:
        print(TEXT_CANNOT_WRITE.format(path=args.file, problem=exc.strerror), file=sys.stderr)
        return 2
    print(TEXT_EXPORTED.format(kind=args.kind, path=args.file, size=len(body)))
    return 0
