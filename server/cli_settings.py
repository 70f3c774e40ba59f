"""What every ``toolhut server`` subcommand shares: its ``--db`` option, and its settings
(environment, then the options given), refused in one line without the values."""

from __future__ import annotations

import argparse
from typing import Any


def add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="database URL (sqlite:///path or postgresql://...)",
    )


def settings_of(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from server.settings import ServerSettings

    overrides = {
        "db_url": getattr(args, "db", None),
        "mqtt_url": getattr(args, "mqtt", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "topic_prefix": getattr(args, "prefix", None),
        "secret_file": getattr(args, "secret_file", None),
    }
    clock_offset = getattr(args, "clock_offset", None)
    if clock_offset is not None:  # merged with TOOLHUT_SERVER_CLOCK__ENABLED from the environment
        overrides["clock"] = {"offset": clock_offset}
    try:
        return ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        # One line, and without the values: a rejected one (a password in a URL) stays out of logs.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise SystemExit(f"toolhut server: bad settings: {problems}") from exc
