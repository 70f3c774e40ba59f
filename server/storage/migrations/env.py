"""Alembic environment: runs on the connection that migrate() hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from server.storage.db import make_engine
from server.storage.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # `alembic -x db_url=...` from a shell, e.g. to write a new revision.
    url = context.get_x_argument(as_dictionary=True).get("db_url", "sqlite:///data/toolhut.sqlite3")
    engine = make_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; pass a database")
run_migrations_online()
