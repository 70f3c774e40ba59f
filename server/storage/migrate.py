"""Bring a database to the newest schema; called on every start."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

# Alembic announces each of its plugins at INFO when it is imported: noise in a server's
# log, and on the demo's screen. So the level is set before the import (this module is the
# only one of ours that imports Alembic).
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Connection, Engine, text  # noqa: E402

from server.storage.db import make_engine  # noqa: E402

log = logging.getLogger(__name__)

# Next to this module, so it works from a source checkout and from an installed wheel.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant: several server processes starting together take turns migrating.
_PG_LOCK = 0x7001_4C7D


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration of this code (read from the scripts once per process)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration scripts"
    return head


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this code's migrations (not a newer version's)."""
    script = ScriptDirectory.from_config(alembic_config())
    return any(rev.revision == revision for rev in script.walk_revisions())


def current_revision(connection: Connection) -> str | None:
    """The database's revision, as Alembic recorded it; None if it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def migrate(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate_engine(engine)
    finally:
        engine.dispose()


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (and was not committed)."""


def migrate_engine(engine: Engine) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode re-creates tables that others reference. SQLite's own recipe for
            # that: foreign keys off (possible only outside a transaction), then a check.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise MigrationError(f"foreign keys broken by migration: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    log.info("database schema is up to date (%s)", engine.url.render_as_string())
