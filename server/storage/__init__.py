"""The ledger in a database: SQLAlchemy models, queries and Alembic migrations."""

from server.storage.db import DatabaseUrlError, make_engine, make_sessionmaker, normalize_db_url
from server.storage.migrate import migrate

# Imported for its tables: Alembic compares migrations against Base.metadata.
from server.storage import reminder_models  # noqa: E402, F401  isort: skip
from server.storage import ingest_models  # noqa: E402, F401  isort: skip
from server.storage import staff_models  # noqa: E402, F401  isort: skip
from server.storage import operations_models  # noqa: E402, F401  isort: skip
from server.storage import wish_models  # noqa: E402, F401  isort: skip
from server.storage import resident_models  # noqa: E402, F401  isort: skip
from server.storage import rating_models  # noqa: E402, F401  isort: skip

__all__ = ["DatabaseUrlError", "make_engine", "make_sessionmaker", "migrate", "normalize_db_url"]
from server.storage import report_models  # noqa: E402, F401  isort: skip
