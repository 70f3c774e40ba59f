"""``toolhut server backup`` and ``restore``: a consistent copy of the ledger taken while
the server writes, and that copy put back, migrated to this code's schema.

- SQLite: SQLite's online backup API, in one step, so in one read transaction: the copy is
  the database as one commit left it, and in WAL mode (the server's) the writers go on
  meanwhile. The copy is one self-contained SQLite file. A restore copies it back with the
  same API (other connections then see the restored pages, never a torn file) while
  holding the database's in-use mark (server.storage.in_use): a running server is refused
  unless ``force``.
- PostgreSQL: its own tools. ``pg_dump --format=custom`` of the tool hut's schema (the
  current schema of the URL: ``public``, or the one its search_path names), one snapshot
  in which the writers never wait. A restore turns the archive into SQL with
  ``pg_restore`` and runs it with ``psql`` in one transaction that first drops the tool
  hut's tables, sequences and types in that schema (the schema itself stays, with its
  owner and grants), so a failed restore changes nothing. The database's schema must be
  the archive's. Another connection to the database counts as a running server unless
  ``force``. The password goes to the tools in their environment, never on a command
  line.

A backup is a tool hut backup if it holds the migrations table, at one of this code's
revisions (one from a newer version is refused: update the server first). Neither kind
holds the server secret (``secret_file``): it must be kept with the backups, as every
hut's key derives from it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL, make_url

from server.storage import make_engine, migrate, normalize_db_url
from server.storage.in_use import DatabaseInUseError, sqlite_path, take_over
from server.storage.migrate import current_revision, head_revision, known_revision
from toolhut.i18n import bilingual

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_ARCHIVE_MAGIC = b"PGDMP"
VERSION_TABLE = "alembic_version"

# What the person running the command reads: 中文 / English.
TEXT_NO_DATABASE = bilingual("there is no database at {db}")
TEXT_NOT_TOOLHUT_DB = bilingual("{db} is not a tool hut database (no migrations table)")
TEXT_SAME_FILE = bilingual("the backup file cannot be the database itself")
TEXT_NOT_A_BACKUP = bilingual("{file} is not a tool hut backup: {why}")
TEXT_NEWER_BACKUP = bilingual(
    "the backup's schema {revision} is newer than this server's ({head}): update the server first"
)
TEXT_WRONG_SCHEMA = bilingual(
    "the backup holds schema {backup}, the database's is {db}: restore it into a database whose "
    "search_path names {backup}"
)
TEXT_WRONG_KIND = bilingual("a {backup} backup restores into a {backup} database, not {db}")
TEXT_IN_USE = bilingual(
    "{db} is in use (by a running server, or another connection): stop every server first, or add "
    "--force to restore under it"
)
TEXT_TOOL_MISSING = bilingual(
    "{tool} not found: install the PostgreSQL client tools of the database server's major version "
    "(Debian, Ubuntu: apt install postgresql-client)"
)
TEXT_TOOL_FAILED = bilingual("{tool} failed (exit {code}): {error}")
TEXT_BACKED_UP = bilingual("backed up {db} to {file} ({size} bytes, schema {revision})")
TEXT_RESTORED = bilingual("restored {file} into {db} (schema {revision}, now {head})")
TEXT_SECRET_REMINDER = bilingual("the server secret is not in the backup: keep {secret} with it")

_WHY_NOT_SQLITE_OR_PG = "neither a SQLite file nor a pg_dump custom archive"
_WHY_NO_TABLE = "no migrations table"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message is for the person."""


@dataclass(frozen=True, slots=True)
class BackupDone:
    path: Path
    kind: str  # sqlite | postgresql
    revision: str
    size: int


@dataclass(frozen=True, slots=True)
class RestoreDone:
    kind: str
    revision: str  # the backup's
    head: str  # the database's now, after the migrations


def backup(db_url: str, target: Path) -> BackupDone:
    """Write a consistent copy of the database of ``db_url`` to ``target`` (0600; a file
    there is replaced only once the new copy is complete)."""
    url = make_url(normalize_db_url(db_url))
    if url.get_backend_name() == "postgresql":
        return _pg_backup(url, target)
    path = sqlite_path(db_url)
    if path is None:
        raise BackupError(TEXT_NO_DATABASE.format(db=shown(db_url)))
    return _sqlite_backup(path, target, shown_db=shown(db_url))


def restore(source: Path, db_url: str, *, force: bool = False) -> RestoreDone:
    """Replace the database of ``db_url`` with the backup ``source``, then migrate it."""
    kind = backup_kind(source)
    url = make_url(normalize_db_url(db_url))
    if url.get_backend_name() != kind:
        raise BackupError(TEXT_WRONG_KIND.format(backup=kind, db=url.get_backend_name()))
    if kind == "postgresql":
        revision = _pg_restore(source, url, force=force, shown_db=shown(db_url))
    else:
        path = sqlite_path(db_url)
        if path is None:
            raise BackupError(TEXT_NO_DATABASE.format(db=shown(db_url)))
        revision = _sqlite_restore(source, path, force=force, shown_db=shown(db_url))
    migrate(db_url)
    return RestoreDone(kind=kind, revision=revision, head=head_revision())


def backup_kind(source: Path) -> str:
    """``sqlite`` or ``postgresql``, from the file's first bytes."""
    try:
        with source.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why=exc.strerror)) from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_ARCHIVE_MAGIC):
        return "postgresql"
    raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why=_WHY_NOT_SQLITE_OR_PG))


def shown(db_url: str) -> str:
    return make_url(normalize_db_url(db_url)).render_as_string(hide_password=True)


def _checked_revision(source: Path, revision: str | None, why_missing: str) -> str:
    if revision is None:
        raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why=why_missing))
    if not known_revision(revision):
        raise BackupError(TEXT_NEWER_BACKUP.format(revision=revision, head=head_revision()))
    return revision


# SQLite


def _sqlite_backup(path: Path, target: Path, *, shown_db: str) -> BackupDone:
    if not path.is_file():
        raise BackupError(TEXT_NO_DATABASE.format(db=shown_db))
    if target.exists() and target.resolve() == path.resolve():
        raise BackupError(TEXT_SAME_FILE)
    partial = _partial_file(target)
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(partial)
            try:
                # pages=-1: every page in one step, in one read transaction of the source.
                source.backup(copy, pages=-1)
                copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
                revision = _sqlite_revision(copy)
            finally:
                copy.close()
        finally:
            source.close()
        if revision is None:
            raise BackupError(TEXT_NOT_TOOLHUT_DB.format(db=shown_db))
        _commit_file(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(target, "sqlite", revision, target.stat().st_size)


def _sqlite_restore(source: Path, path: Path, *, force: bool, shown_db: str) -> str:
    try:
        backup_db = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why=str(exc))) from exc
    try:
        try:
            ok = backup_db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            revision = _sqlite_revision(backup_db)
        except sqlite3.DatabaseError as exc:
            raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why=str(exc))) from exc
        if not ok:
            raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why="damaged (quick_check)"))
        revision = _checked_revision(source, revision, _WHY_NO_TABLE)
        try:
            mark = take_over(path)
        except DatabaseInUseError:
            if not force:
                raise BackupError(TEXT_IN_USE.format(db=shown_db)) from None
            mark = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            target = sqlite3.connect(path, timeout=30)
            try:
                backup_db.backup(target, pages=-1)
            finally:
                target.close()
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite: {exc}") from exc
        finally:
            if mark is not None:
                mark.release()
    finally:
        backup_db.close()
    return revision


def _sqlite_revision(db: sqlite3.Connection) -> str | None:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,)
    ).fetchone()
    if found is None:
        return None
    row = db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()  # noqa: S608
    return None if row is None else str(row[0])


# PostgreSQL


def _pg_backup(url: URL, target: Path) -> BackupDone:
    pg_dump = _tool("pg_dump")
    shown_db = url.render_as_string(hide_password=True)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            revision = _pg_revision(connection)
            schema = str(connection.scalar(text("SELECT current_schema()")))
    finally:
        engine.dispose()
    if revision is None:
        raise BackupError(TEXT_NOT_TOOLHUT_DB.format(db=shown_db))
    conninfo, env = _libpq(url)
    partial = _partial_file(target)
    try:
        dump = [pg_dump, "--format=custom", f"--schema={schema}", f"--file={partial}"]
        _run([*dump, f"--dbname={conninfo}"], env=env)
        _commit_file(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(target, "postgresql", revision, target.stat().st_size)


def _pg_restore(source: Path, url: URL, *, force: bool, shown_db: str) -> str:
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    conninfo, env = _libpq(url)
    archive = _Archive.read(pg_restore, source)
    revision = _checked_revision(source, archive.revision, _WHY_NO_TABLE)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            schema = _target_schema(connection)
            if schema != archive.schema:
                raise BackupError(TEXT_WRONG_SCHEMA.format(backup=archive.schema, db=schema))
            others = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            if others and not force:
                raise BackupError(TEXT_IN_USE.format(db=shown_db))
            drops = _drop_statements(connection, schema)
    finally:
        engine.dispose()
    with tempfile.NamedTemporaryFile("w", suffix=".list") as entries:
        entries.write(archive.entries_without_schema())
        entries.flush()
        sql = [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            f"--use-list={entries.name}",
            "--file=-",
            str(source),
        ]
        apply = [
            psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
            f"--dbname={conninfo}", f"--command={drops}", "--file=-",
        ]  # fmt: skip
        _pipe(sql, apply, env=env)
    return revision


def _target_schema(connection: Connection) -> str:
    """The schema the server's tables live in: the current one, or the first one the
    search_path names if that does not exist yet (a new database)."""
    current = connection.scalar(text("SELECT current_schema()"))
    if current is not None:
        return str(current)
    path = str(connection.scalar(text("SHOW search_path")))
    named = [part.strip().strip('"') for part in path.split(",")]
    return next((name for name in named if name and name != "$user"), "public")


def _pg_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return current_revision(connection)


# An entry of pg_restore --list: "3355; 0 315409 TABLE DATA public alembic_version owner".
_ENTRY = r"^\d+; \d+ \d+ "
_VERSION_DATA = re.compile(_ENTRY + r"TABLE DATA (\S+) " + VERSION_TABLE + " ", re.MULTILINE)
_SCHEMA_ENTRY = re.compile(_ENTRY + r"(SCHEMA|COMMENT) - ")
_END_OF_COPY = "\\."


@dataclass(frozen=True, slots=True)
class _Archive:
    """What a pg_dump custom archive holds, from its table of contents."""

    listing: str  # pg_restore --list
    schema: str  # the schema of its migrations table
    revision: str | None

    @classmethod
    def read(cls, pg_restore: str, source: Path) -> _Archive:
        listing = _run([pg_restore, "--list", str(source)])
        found = _VERSION_DATA.search(listing)
        if found is None:
            raise BackupError(TEXT_NOT_A_BACKUP.format(file=source, why=_WHY_NO_TABLE))
        schema = found.group(1)
        # The table's data as SQL: "COPY <schema>.alembic_version (version_num) FROM stdin;",
        # the revision, then "\.".
        script = _run(
            [pg_restore, "--data-only", f"--table={VERSION_TABLE}", "--file=-", str(source)]
        )
        lines = script.splitlines()
        revision = None
        for number, line in enumerate(lines[:-1]):
            if line.startswith(f"COPY {schema}.{VERSION_TABLE} "):
                value = lines[number + 1].strip()
                revision = None if value == _END_OF_COPY else value
        return cls(listing, schema, revision)

    def entries_without_schema(self) -> str:
        """The listing less the schema's own entries (its CREATE SCHEMA and comment): the
        schema stays as the database has it, with its owner and grants."""
        kept = [line for line in self.listing.splitlines() if not _SCHEMA_ENTRY.match(line)]
        return "\n".join(kept) + "\n"


def _drop_statements(connection: Connection, schema: str) -> str:
    """SQL that makes ``schema`` ready for the archive, whatever this database's revision:
    created if missing, and emptied of the tool hut's tables, sequences and enum types."""
    inspector = inspect(connection)
    quote = connection.dialect.identifier_preparer.quote

    def names(found: Sequence[str]) -> str:
        return ", ".join(f"{quote(schema)}.{quote(name)}" for name in found)

    statements = [
        "SET client_min_messages = warning",
        f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}",
    ]
    tables = inspector.get_table_names(schema=schema)
    if tables:
        statements.append(f"DROP TABLE IF EXISTS {names(tables)} CASCADE")
    sequences = inspector.get_sequence_names(schema=schema)
    if sequences:
        statements.append(f"DROP SEQUENCE IF EXISTS {names(sequences)} CASCADE")
    enums = [enum["name"] for enum in inspector.get_enums(schema=schema)]  # type: ignore[attr-defined]
    if enums:
        statements.append(f"DROP TYPE IF EXISTS {names(enums)} CASCADE")
    return ";\n".join(statements) + ";"


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the tools, and their environment: the password in
    PGPASSWORD, out of every command line."""
    parts = {
        "host": url.host,
        "port": None if url.port is None else str(url.port),
        "user": url.username,
        "dbname": url.database,
    }
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    conninfo = " ".join(f"{key}={_quoted(value)}" for key, value in parts.items() if value)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(TEXT_TOOL_MISSING.format(tool=name))
    return found


def _run(command: Sequence[str], *, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise _failed(command[0], done.returncode, done.stderr)
    return done.stdout


def _pipe(first: Sequence[str], second: Sequence[str], *, env: dict[str, str]) -> None:
    """``first | second``, each one's errors kept apart (in files: a pipe's buffer filled by
    one could stall the other)."""
    with tempfile.TemporaryFile("w+") as first_err, tempfile.TemporaryFile("w+") as second_err:
        producer = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=first_err, env=env)
        assert producer.stdout is not None
        consumer = subprocess.Popen(
            second,
            stdin=producer.stdout,
            stdout=subprocess.DEVNULL,
            stderr=second_err,
            env=env,
        )
        producer.stdout.close()  # the consumer holds the read end now
        consumer.wait()
        producer.wait()
        for command, process, errors in (
            (second, consumer, second_err),
            (first, producer, first_err),
        ):
            if process.returncode != 0:
                errors.seek(0)
                raise _failed(command[0], process.returncode, errors.read())


def _failed(command: str, code: int, stderr: str) -> BackupError:
    """The tool's error lines only: DETAIL and CONTEXT lines quote rows (members' names,
    phones), which stay out of the message."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if ("error" in line.lower() or "fatal" in line.lower())
        and not line.lstrip().startswith(("DETAIL", "CONTEXT"))
    ]
    tool = Path(command).name
    return BackupError(
        TEXT_TOOL_FAILED.format(tool=tool, code=code, error=" | ".join(lines[:3]) or "-")
    )


# Files


def _partial_file(target: Path) -> Path:
    """A new, private file beside ``target``: the copy is written there, then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return partial


def _commit_file(partial: Path, target: Path) -> None:
    """Make ``partial`` durable, then ``target`` in one rename."""
    with partial.open("rb+") as file:
        os.fsync(file.fileno())
    os.replace(partial, target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


__all__ = [
    "TEXT_SECRET_REMINDER",
    "BackupDone",
    "BackupError",
    "RestoreDone",
    "backup",
    "backup_kind",
    "restore",
    "shown",
]
