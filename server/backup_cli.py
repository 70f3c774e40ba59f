"""``toolhut server backup FILE`` and ``toolhut server restore FILE``: the command line of
server.backup (what each does, and what it refuses, is said there)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def configure(actions: Any, add_db: Callable[[argparse.ArgumentParser], None]) -> None:
    """Adds ``backup`` and ``restore`` to ``toolhut server``'s ACTION parsers."""
    backup = actions.add_parser(
        "backup",
        help="write a consistent copy of the database, while the server runs",
        description="SQLite: the online backup API, a single file. PostgreSQL: pg_dump "
        "--format=custom (the client tools must be installed). The server secret is not "
        "in the copy: keep the secret file with the backups.",
    )
    add_db(backup)
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup to write")
    backup.set_defaults(run=run_backup)
    restore = actions.add_parser(
        "restore",
        help="replace the database with a backup, then migrate it to this version",
        description="Refuses a file that is not a tool hut backup, one from a newer "
        "version, and a database a running server uses (unless --force).",
    )
    add_db(restore)
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup to restore")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore even though a server (or another connection) uses the database",
    )
    restore.set_defaults(run=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    from server.backup import TEXT_BACKED_UP, TEXT_SECRET_REMINDER, BackupError, backup, shown
    from server.cli_settings import settings_of

    settings = settings_of(args)
    try:
        done = backup(settings.db_url, args.file)
    except BackupError as exc:
        print(f"toolhut server backup: {exc}", file=sys.stderr)
        return 2
    print(
        TEXT_BACKED_UP.format(
            db=shown(settings.db_url), file=done.path, size=done.size, revision=done.revision
        )
    )
    print(TEXT_SECRET_REMINDER.format(secret=settings.secret_file))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from server.backup import TEXT_RESTORED, BackupError, restore, shown
    from server.cli_settings import settings_of

    settings = settings_of(args)
    try:
        done = restore(args.file, settings.db_url, force=args.force)
    except BackupError as exc:
        print(f"toolhut server restore: {exc}", file=sys.stderr)
        return 2
    print(
        TEXT_RESTORED.format(
            file=args.file, db=shown(settings.db_url), revision=done.revision, head=done.head
        )
    )
    return 0
