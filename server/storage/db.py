"""Engines for SQLite (the default, WAL) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from server.storage import access_changes, bulk_ids


class DatabaseUrlError(ValueError):
    """A database URL this server cannot use."""


def normalize_db_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3, the driver we ship."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            url = "postgresql+psycopg://" + url[len(plain) :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(f"only sqlite and postgresql are supported (got {url!r})")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalize_db_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    pool: dict[str, Any] = {}
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pool = {"pool_use_lifo": True}  # a file's QueuePool (memory has a pool per thread)
    # The API reads while the ingest worker writes: wait for a lock instead of failing.
    # LIFO: a thread gets back the connection it used last. Each SQLite connection keeps
    # its own page cache, dropped whenever another connection has written since; the
    # default FIFO pool handed the ingest worker the longest-idle connection, so every
    # lone scan's transaction read its ~30 pages again (strace: 31 preads a scan, 0 with
    # LIFO).
    engine = create_engine(url, connect_args={"timeout": 30}, **pool)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL syncs the log at checkpoints rather than at every commit: a
    # committed transaction still survives a crash of this process (what an ingest ack
    # promises); only a power loss or OS crash may take back the last commits, which the
    # gateways then resend, as their outbox keeps every event until it is acked.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The server's session factory: its commits tell its access listeners
    (``access_changes``); its flushes set many new rows' ids beforehand (``bulk_ids``)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    access_changes.install(factory)
    bulk_ids.install(factory)
    return factory
