"""A running server's mark on its SQLite database, so that a restore does not pull the
database from under it (``toolhut server restore`` refuses unless told ``--force``).

Every server process holds a shared ``flock`` on a file beside the database
(``<database>-server.lock``) while it runs; a restore takes an exclusive one, without
waiting. The kernel drops a lock when its process ends, however it ends, so a crashed
server leaves no stale mark behind. It is a file of its own, not the database file: in a
process that uses SQLite, closing any descriptor of the database file would drop SQLite's
own locks on it.

PostgreSQL needs no mark: a restore asks the database who else is connected.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from server.storage.db import normalize_db_url

LOCK_SUFFIX = "-server.lock"


class DatabaseInUseError(RuntimeError):
    """A running server holds the mark (an exclusive mark could not be taken)."""


def sqlite_path(db_url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and for an in-memory database."""
    url = make_url(normalize_db_url(db_url))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + LOCK_SUFFIX)


class Mark:
    """A held mark; ``release()`` (or the process's end) gives it back."""

    def __init__(self, database: Path, *, exclusive: bool) -> None:
        path = lock_path(database)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if exclusive:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                # A server waits for a restore under way, then opens what it restored.
                fcntl.flock(self._fd, fcntl.LOCK_SH)
        except BlockingIOError as exc:
            self.release()
            raise DatabaseInUseError(str(database)) from exc

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops its lock
            self._fd = None

    def __enter__(self) -> Mark:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def mark_in_use(db_url: str) -> Mark | None:
    """The running server's shared mark on its SQLite database (None for PostgreSQL)."""
    path = sqlite_path(db_url)
    return None if path is None else Mark(path, exclusive=False)


def take_over(database: Path) -> Mark:
    """The exclusive mark of a restore; DatabaseInUseError if a server runs on it."""
    return Mark(database, exclusive=True)


__all__ = [
    "LOCK_SUFFIX",
    "DatabaseInUseError",
    "Mark",
    "lock_path",
    "mark_in_use",
    "sqlite_path",
    "take_over",
]
