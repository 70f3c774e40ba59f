"""``toolhut server``: run the lending server, migrate its database, seed demo data; staff
accounts and tokens (server.account_cli); add or change a hut (``hut add|set``,
server.records_cli); import and export spreadsheets (server.transfer_cli); back up and
restore the database (server.backup_cli); the monthly report (server.report_cli); write
the broker's password and ACL files and each hut's credentials (``mqtt-auth``).

Light on purpose: heavy imports happen inside the run functions.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from server import account_cli, backup_cli, records_cli, report_cli, transfer_cli
from server.cli_settings import add_db, settings_of
from toolhut.i18n import bilingual

log = logging.getLogger(__name__)

LEFTOVER_STAFF_TOKEN = "TOOLHUT_SERVER_STAFF_TOKEN"
TEXT_LEFTOVER_STAFF_TOKEN = bilingual(
    "{name} is no longer used and opens nothing: create staff accounts "
    "(toolhut server create-user) and API tokens instead, then remove it"
).format(name=LEFTOVER_STAFF_TOKEN)


def configure(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--mqtt", metavar="URL", help="broker, mqtt[s]://host[:port]")
    parser.add_argument("--host", help="HTTP listen address")
    parser.add_argument("--port", type=int, help="HTTP port")
    parser.add_argument("--prefix", metavar="PREFIX", help="MQTT topic prefix")
    parser.add_argument(
        "--secret-file",
        metavar="PATH",
        help="the server secret (env TOOLHUT_SERVER_SECRET_FILE; default data/server-secret)",
    )
    parser.add_argument(
        "--clock-offset",
        metavar="DURATION",
        help="start the server's clock this far ahead, e.g. 4d or 2h; refused unless "
        "TOOLHUT_SERVER_CLOCK__ENABLED=true (demos and tests only, never in production)",
    )
    parser.set_defaults(run=run_server)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    migrate = actions.add_parser("migrate", help="bring the database schema up to date")
    add_db(migrate)
    migrate.set_defaults(run=run_migrate)
    seed = actions.add_parser("seed", help="add the demo hut, inventory and residents")
    add_db(seed)
    seed.add_argument("--hut", default="demo-hut", help="hut id (default: demo-hut)")
    seed.set_defaults(run=run_seed)
    records_cli.configure(actions, add_db=add_db, settings_of=settings_of, shown=_shown)
    auth = actions.add_parser(
        "mqtt-auth",
        help="write Mosquitto's password and ACL files and every hut's credentials file",
        description="Writes DIR/passwd and DIR/acl for Mosquitto (password_file, acl_file), "
        "DIR/server-mqtt-password for the server (mqtt_password_file) and DIR/huts/<hut>.toml "
        "for each hut's gateway (credentials_file), all 0600, for every hut in the database "
        "and every --hut. Passwords derive from the server secret: running it again changes "
        "nothing for a hut that has not changed. Then tell the broker: kill -HUP <pid>, or "
        "docker compose kill -s HUP mosquitto.",
    )
    add_db(auth)
    auth.add_argument("--out", metavar="DIR", type=Path, required=True, help="folder to write")
    auth.add_argument(
        "--hut",
        dest="huts",
        action="append",
        default=[],
        metavar="ID",
        help="a hut not (yet) in the database; may be repeated",
    )
    auth.add_argument("--prefix", metavar="PREFIX", help="MQTT topic prefix")
    auth.add_argument(
        "--homeassistant-prefix",
        metavar="PREFIX",
        help="let each hut publish its Home Assistant discovery topics under PREFIX "
        "(for gateways run with --homeassistant); unset: no discovery topics",
    )
    auth.add_argument(
        "--secret-file",
        metavar="PATH",
        type=Path,
        help="the server secret (default: the server's secret_file setting)",
    )
    auth.set_defaults(run=run_mqtt_auth)
    transfer_cli.add_commands(actions, add_db=add_db, settings=settings_of)
    account_cli.configure(actions, add_db)
    backup_cli.configure(actions, add_db)
    report_cli.configure(actions, add_db)


def leftover_settings(environ: Mapping[str, str]) -> list[str]:
    """Warnings for settings of old that do nothing now (the values are never shown)."""
    return [TEXT_LEFTOVER_STAFF_TOKEN] if LEFTOVER_STAFF_TOKEN in environ else []


def run_server(args: argparse.Namespace) -> int:
    from server.app import ServerRuntime
    from toolhut.hut_keys import SecretFileError

    for warning in leftover_settings(os.environ):
        log.warning("%s", warning)
    try:
        return ServerRuntime(settings_of(args)).serve_forever()
    except SecretFileError as exc:
        print(f"toolhut server: {exc}", file=sys.stderr)
        return 2


def run_migrate(args: argparse.Namespace) -> int:
    from server.storage import migrate

    settings = settings_of(args)
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
    settings = settings_of(args)
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        added = seed_demo(engine, hut_id=args.hut)
    finally:
        engine.dispose()
    print(f"seeded hut {args.hut} at {_shown(settings.db_url)}: {added} rows added")
    return 0


def run_mqtt_auth(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from server.broker_auth import write_broker_auth
    from server.storage import make_engine, make_sessionmaker
    from server.storage.queries import list_huts
    from toolhut.contract import ContractError, Topics, check_hut_id
    from toolhut.hut_keys import HutKeyring, SecretFileError, load_or_create_secret

    name = "toolhut server mqtt-auth"
    settings = settings_of(args)
    try:
        extra = [check_hut_id(hut) for hut in args.huts]
        ha_prefix = args.homeassistant_prefix
        if ha_prefix is not None:
            Topics(ha_prefix)
    except ContractError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine)() as db:
            known = [hut.id for hut in list_huts(db)]
    except SQLAlchemyError as exc:
        print(
            f"{name}: cannot read the huts from {_shown(settings.db_url)} "
            f"({type(exc).__name__}); run `toolhut server migrate` first?",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    huts = []
    for hut in known:
        try:
            huts.append(check_hut_id(hut))
        except ContractError as exc:
            print(f"{name}: skipped: {exc}", file=sys.stderr)
    secret_file = settings.secret_file
    try:
        secret, created = load_or_create_secret(secret_file)
        if created:
            print(f"created a new server secret at {secret_file} (the server must use it too)")
        keyring = HutKeyring(secret)
    except (SecretFileError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    try:
        written = write_broker_auth(
            args.out,
            keyring=keyring,
            huts=[*huts, *extra],
            topics=settings.topics,
            homeassistant_prefix=ha_prefix,
        )
    except OSError as exc:
        print(f"{name}: cannot write to {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    for path in written.changed:
        print(f"wrote {path}")
    for path in written.unchanged:
        print(f"unchanged {path}")
    for path in written.removed:
        print(f"removed {path} (hut no longer in the database)")
    count = len(set(huts) | set(extra))
    print(
        f"{count} huts and the server under prefix {settings.topic_prefix}; "
        "if the broker runs, reload it: kill -HUP <pid>, or docker compose kill -s HUP mosquitto"
    )
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    from server.storage import normalize_db_url

    return make_url(normalize_db_url(url)).render_as_string(hide_password=True)
