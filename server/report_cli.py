"""``toolhut server report --month 2026-11 [--hut H] [--lang zh_CN|en] --out DIR [--keep]``:
the monthly report's PDF (each language, or the one asked for) and its CSV, written to
DIR; with ``--keep`` also kept in the database for the console's download page."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolhut.i18n import LANGUAGES, N_, bilingual

TEXT_WROTE = N_("wrote {path}")
TEXT_NO_HUT = N_("there is no hut {hut}")
TEXT_NO_DATABASE = N_("the database cannot be read ({error}): run toolhut server migrate first")
TEXT_NO_FOLDER = N_("cannot write to {path}: {error}")


def configure(actions: Any, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Adds ``report`` to ``toolhut server``'s ACTION parsers."""
    report = actions.add_parser(
        "report",
        help="the monthly report of a hut or the district: PDF (Chinese, English) and CSV",
        description="Counts the month in the hut's time zone (the district: Asia/Shanghai, "
        "or TOOLHUT_SERVER_REPORTS__TIMEZONE); a month not over is counted up to now.",
    )
    add_db(report)
    report.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2026-11")
    report.add_argument("--hut", metavar="ID", help="one hut (default: the whole district)")
    report.add_argument(
        "--lang", choices=LANGUAGES, help="only this language's PDF (default: both)"
    )
    report.add_argument("--out", metavar="DIR", type=Path, required=True, help="folder to write")
    report.add_argument(
        "--keep", action="store_true", help="also keep it for download in the console"
    )
    report.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from server.cli_settings import settings_of
    from server.domain.actors import Actor
    from server.reports import service
    from server.reports.build import UnknownHutError
    from server.reports.figures import Month, MonthError
    from server.storage import make_engine, make_sessionmaker

    try:
        month = Month.parse(args.month)
    except MonthError as exc:
        print(f"toolhut server report: {exc}", file=sys.stderr)
        return 2
    settings = settings_of(args)
    languages = [args.lang] if args.lang else list(LANGUAGES)
    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine).begin() as db:
            now = settings.clock.clock()()
            make = service.build_and_keep if args.keep else service.build
            extra = {"actor": Actor.cli()} if args.keep else {}
            built = make(
                db,
                month=month,
                hut_id=args.hut,
                now=now,
                languages=languages,
                district_zone=settings.reports.timezone,
                **extra,
            )
    except UnknownHutError:
        print(
            f"toolhut server report: {bilingual(TEXT_NO_HUT).format(hut=args.hut)}", file=sys.stderr
        )
        return 2
    except SQLAlchemyError as exc:
        error = type(exc).__name__
        print(
            f"toolhut server report: {bilingual(TEXT_NO_DATABASE).format(error=error)}",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    stem = service.file_stem(str(month), args.hut)
    files = {args.out / f"{stem}.csv": built.csv}
    files |= {args.out / f"{stem}.{lang}.pdf": pdf for lang, pdf in built.pdfs.items()}
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for path, data in files.items():
            path.write_bytes(data)
    except OSError as exc:
        text = bilingual(TEXT_NO_FOLDER).format(path=args.out, error=exc.strerror or exc)
        print(f"toolhut server report: {text}", file=sys.stderr)
        return 2
    for path in files:
        print(bilingual(TEXT_WROTE).format(path=path))
    return 0
