"""``toolhut server create-user | users | reset-password | token create``: staff accounts
from the server's machine (the first admin, a locked-out one, a script's token). Each
write is audited as ``cli:<os user>``. A password or token is printed once, to stdout,
and nowhere else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.domain.roles import Role
from toolhut.i18n import bilingual

TEXT_PASSWORD_ONCE = bilingual("keep it safe: the password is shown this once")
TEXT_MUST_CHANGE = bilingual("it must be changed at the first sign-in")
TEXT_TOKEN_ONCE = bilingual("keep it safe: the token is shown this once")
TEXT_NO_USERS = bilingual("no staff accounts yet")


def configure(actions: Any, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Adds the account subcommands to ``toolhut server``'s ACTION parsers."""
    create = actions.add_parser(
        "create-user",
        help="create a staff account (the first admin, for one)",
        description="Without --password-file a strong password is generated and printed "
        "once, to be changed at the first sign-in; with one, its first line is the password "
        "(it must be strong) and is kept.",
    )
    add_db(create)
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--display-name", metavar="NAME")
    create.add_argument("--password-file", metavar="FILE", type=Path)
    create.set_defaults(run=run_create_user)

    users = actions.add_parser("users", help="list the staff accounts")
    add_db(users)
    users.set_defaults(run=run_users)

    reset = actions.add_parser(
        "reset-password",
        help="give an account a new temporary password (printed once); its sessions end",
    )
    add_db(reset)
    reset.add_argument("--username", required=True)
    reset.set_defaults(run=run_reset_password)

    token = actions.add_parser("token", help="personal API tokens")
    token_actions = token.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create_token = token_actions.add_parser(
        "create", help="a new API token of an account (printed once)"
    )
    add_db(create_token)
    create_token.add_argument("--username", required=True)
    create_token.add_argument("--name", required=True, help="what the token is for")
    create_token.add_argument("--days", type=int, help="lifetime (default: accounts.token_days)")
    create_token.set_defaults(run=run_create_token)


@contextmanager
def _accounts(args: argparse.Namespace, name: str) -> Iterator[tuple[Any, Any]]:
    """A transaction on the migrated database and the settings; account errors become a
    message and exit code 2 (nothing written)."""
    from server.accounts.errors import AccountConflictError, AccountNotFoundError
    from server.cli_settings import settings_of
    from server.domain.record_errors import InvalidFieldsError
    from server.storage import make_engine, make_sessionmaker, migrate

    settings = settings_of(args)
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        with make_sessionmaker(engine).begin() as db:
            yield db, settings
    except InvalidFieldsError as exc:
        for error in exc.errors:
            print(f"{name}: {error.field}: {error.reason}", file=sys.stderr)
        raise SystemExit(2) from None
    except (AccountConflictError, AccountNotFoundError) as exc:
        text = exc.text if isinstance(exc, AccountConflictError) else str(exc)
        print(f"{name}: {text}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        engine.dispose()


def _password_from(path: Path, name: str) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"{name}: cannot read {path}: {exc}") from None
    if not lines or not lines[0]:
        raise SystemExit(f"{name}: {path} is empty")
    return lines[0]


def run_create_user(args: argparse.Namespace) -> int:
    from server.accounts.manage import new_account
    from server.clock import system_clock
    from server.domain.actors import Actor

    name = "toolhut server create-user"
    password = None if args.password_file is None else _password_from(args.password_file, name)
    with _accounts(args, name) as (db, _):
        user, shown = new_account(
            db,
            username=args.username,
            role=Role(args.role),
            display_name=args.display_name,
            password=password,
            actor=Actor.cli(),
            now=system_clock(),
        )
        created = f"created {user.role.value} account {user.username} (id {user.id})"
    print(created)
    if shown is not None:
        print(f"password: {shown}")
        print(f"{TEXT_PASSWORD_ONCE}; {TEXT_MUST_CHANGE}")
    return 0


def run_users(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from server.storage.staff_models import StaffUser

    with _accounts(args, "toolhut server users") as (db, _):
        users = list(db.scalars(select(StaffUser).order_by(StaffUser.id)))
        if not users:
            print(TEXT_NO_USERS)
        for user in users:
            state = "disabled" if user.disabled_at is not None else "enabled"
            seen = "never" if user.last_sign_in_at is None else user.last_sign_in_at.isoformat()
            must = ", must change password" if user.must_change_password else ""
            print(
                f"{user.id}\t{user.username}\t{user.role.value}\t{state}{must}\t"
                f"last sign-in {seen}\t{user.display_name}"
            )
    return 0


def run_reset_password(args: argparse.Namespace) -> int:
    from server.accounts.manage import account_named, reset_password
    from server.clock import system_clock
    from server.domain.actors import Actor

    with _accounts(args, "toolhut server reset-password") as (db, _):
        user = account_named(db, args.username)
        password = reset_password(db, user, actor=Actor.cli(), now=system_clock())
    print(f"new temporary password of {user.username}: {password}")
    print(f"{TEXT_PASSWORD_ONCE}; {TEXT_MUST_CHANGE}")
    return 0


def run_create_token(args: argparse.Namespace) -> int:
    from server.accounts.manage import account_named, new_token
    from server.clock import system_clock
    from server.domain.actors import Actor

    with _accounts(args, "toolhut server token create") as (db, settings):
        user = account_named(db, args.username)
        token, secret = new_token(
            db,
            user,
            name=args.name,
            days=args.days or settings.accounts.token_days,
            actor=Actor.cli(),
            now=system_clock(),
        )
        expires = token.expires_at.isoformat()
    print(f"token {args.name!r} of {user.username}, until {expires}: {secret}")
    print(TEXT_TOKEN_ONCE)
    return 0
