"""``toolhut server hut add|set``: a hut created or changed from the command line (a
deployment step, audited as the machine's user), through the same records code as the API."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from toolhut.i18n import bilingual

TEXT_BAD_FIELDS = bilingual("bad fields")


def configure(actions: Any, *, add_db: Any, settings_of: Any, shown: Any) -> None:
    """``hut add`` and ``hut set`` under ``toolhut server``'s actions; ``add_db``,
    ``settings_of`` and ``shown`` are server.cli's (its --db option, its settings from the
    arguments, a database URL without its password)."""
    hut = actions.add_parser("hut", help="add a hut, or change its name, address, hours ...")
    verbs = hut.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="a new hut")
    edit = verbs.add_parser("set", help="change a hut (only the options given)")
    for parser, required in ((add, True), (edit, False)):
        add_db(parser)
        parser.add_argument("id", metavar="ID", help="hut id, e.g. hut-2")
        parser.add_argument("--name", required=required, help="the hut's name")
        parser.add_argument("--address", help="where it stands")
        parser.add_argument("--timezone", help="IANA time zone (default Asia/Shanghai)")
        parser.add_argument("--phone", help="contact phone shown to residents")
        parser.add_argument(
            "--hours",
            metavar="JSON",
            help='opening hours: {"mon": [["08:00", "20:00"]], ...}; "always": always open',
        )
    add.set_defaults(run=run_hut_add, settings_of=settings_of, shown=shown)
    edit.set_defaults(run=run_hut_set, settings_of=settings_of, shown=shown)


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": args.name,
        "address": args.address,
        "timezone": args.timezone,
        "contact_phone": args.phone,
    }
    values = {key: value for key, value in values.items() if value is not None}
    if args.hours is not None:
        values["opening_hours"] = None if args.hours == "always" else _hours(args.hours)
    return values


def _hours(text: str) -> Any:
    try:
        week = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"toolhut server hut: --hours is not JSON: {exc}") from exc
    return week if isinstance(week, dict) and "week" in week else {"week": week}


def _run(args: argparse.Namespace, write: Any) -> int:
    from datetime import UTC, datetime

    from server.domain.actors import Actor
    from server.domain.record_errors import InvalidFieldsError, StaleVersionError
    from server.staff_actions import NotFoundError
    from server.storage import make_engine, make_sessionmaker, migrate

    settings = args.settings_of(args)
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as db:
            try:
                hut = write(db, _fields(args), actor=Actor.cli(), now=datetime.now(UTC))
            except InvalidFieldsError as exc:
                for error in exc.errors:
                    print(f"{TEXT_BAD_FIELDS}: {error.field}: {error.reason}", file=sys.stderr)
                return 2
            except (NotFoundError, StaleVersionError) as exc:
                print(f"toolhut server hut: {exc}", file=sys.stderr)
                return 2
            db.commit()
            where = args.shown(settings.db_url)
            print(f"hut {hut.id} ({hut.name}) at {where}, version {hut.version}")
    finally:
        engine.dispose()
    return 0


def run_hut_add(args: argparse.Namespace) -> int:
    from server.records import huts
    from server.records.fields import validated
    from server.records.huts import HutFields

    def write(db: Any, values: dict[str, Any], **kw: Any) -> Any:
        return huts.create(db, validated(HutFields, {"id": args.id, **values}), **kw)

    return _run(args, write)


def run_hut_set(args: argparse.Namespace) -> int:
    from server.records import huts
    from server.records.fields import validated
    from server.records.huts import HutUpdate

    def write(db: Any, values: dict[str, Any], **kw: Any) -> Any:
        hut = huts.get(db, args.id)
        fields = validated(HutUpdate, values)
        return huts.update(db, args.id, fields, expected=hut.version, **kw)

    return _run(args, write)
