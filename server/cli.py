"""``toolhut server``: run the lending server, migrate its database, or seed demo data.

Light on purpose: heavy imports happen inside the run functions.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    _add_db(parser)
    parser.add_argument("--mqtt", metavar="URL", help="broker, mqtt://host:port")
    parser.add_argument("--host", help="HTTP listen address")
    parser.add_argument("--port", type=int, help="HTTP port")
    parser.add_argument("--prefix", metavar="PREFIX", help="MQTT topic prefix")
    parser.add_argument("--staff-token", metavar="TOKEN", help="bearer token for staff views")
    parser.add_argument(
        "--secret-file",
        metavar="PATH",
        help="the server secret (env TOOLHUT_SERVER_SECRET_FILE; default data/server-secret)",
    )
    parser.set_defaults(run=run_server)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    migrate = actions.add_parser("migrate", help="bring the database schema up to date")
    _add_db(migrate)
    migrate.set_defaults(run=run_migrate)
    seed = actions.add_parser("seed", help="add the demo hut, inventory and residents")
    _add_db(seed)
    seed.add_argument("--hut", default="demo-hut", help="hut id (default: demo-hut)")
    seed.set_defaults(run=run_seed)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="database URL (sqlite:///path or postgresql://...)",
    )


def _settings(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from server.settings import ServerSettings

    overrides = {
        "db_url": getattr(args, "db", None),
        "mqtt_url": getattr(args, "mqtt", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "topic_prefix": getattr(args, "prefix", None),
        "staff_token": getattr(args, "staff_token", None),
        "secret_file": getattr(args, "secret_file", None),
    }
    try:
        return ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SystemExit(f"toolhut server: bad settings:\n{exc}") from exc


def run_server(args: argparse.Namespace) -> int:
    from server.app import ServerRuntime
    from toolhut.hut_keys import SecretFileError

    try:
        return ServerRuntime(_settings(args)).serve_forever()
    except SecretFileError as exc:
        print(f"toolhut server: {exc}", file=sys.stderr)
        return 2


def run_migrate(args: argparse.Namespace) -> int:
    from server.storage import migrate

    settings = _settings(args)
    migrate(settings.db_url)
    print(f"database at {_shown(settings.db_url)} is up to date")
    return 0


def run_seed(args: argparse.Namespace) -> int:
    from server.seed import seed_demo
    from server.storage import make_engine, migrate
    from toolhut.contract import ContractError, check_hut_id

    try:
        check_hut_id(args.hut)
    except ContractError as exc:
        print(f"toolhut server seed: {exc}", file=sys.stderr)
        return 2
    settings = _settings(args)
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        added = seed_demo(engine, hut_id=args.hut)
    finally:
        engine.dispose()
    print(f"seeded hut {args.hut} at {_shown(settings.db_url)}: {added} rows added")
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    from server.storage import normalize_db_url

    return make_url(normalize_db_url(url)).render_as_string(hide_password=True)
