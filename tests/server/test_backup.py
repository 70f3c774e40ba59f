"""Backup and restore (server.backup, ``toolhut server backup|restore``) on SQLite and on
PostgreSQL, with a writer applying events through the ledger all the while.

"Equal", for a backup taken under write load: the restored database holds the writer's
events 1..k of the hut, with no hole, where k lies between what was committed when the
backup started and when it ended; and its ledger (each event's outcome, the loans, every
item's state: tests/support/ledger_replay.ledger_snapshot) is the ledger of a fresh
database into which the same k events were applied, in the same batches."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from server import backup as backups
from server.ledger import AnyEvent, apply_batch
from server.seed import seed_demo
from server.storage import make_engine, make_sessionmaker, migrate
from server.storage.in_use import lock_path, mark_in_use
from server.storage.migrate import head_revision
from tests.support.ledger_replay import ledger_snapshot, stored_events
from tests.support.services import fresh_postgres_database, fresh_postgres_schema
from toolhut.contract import DoorState
from toolhut_cli.cli import main

from .conftest import T0
from .factories import card, door, scan

HUT = "demo-hut"
BATCH = 3  # events per writer transaction
DEADLINE = 60.0
TAGS = ("T0001", "T0003", "T0005", "T0007")


def visit_events(count: int) -> list[AnyEvent]:
    """The hut's events, visits of five: a card, the door opens, an item is borrowed and
    another returned (borrowed the visit before), the door closes."""
    events: list[AnyEvent] = []
    visit = 0
    while len(events) < count:
        session = f"s{visit}"
        seq = len(events)
        taken, back = TAGS[visit % len(TAGS)], TAGS[(visit - 1) % len(TAGS)]
        events += [
            card(HUT, seq + 1, session=session),
            door(HUT, seq + 2, session=session),
            scan(HUT, seq + 3, taken, session=session),
            scan(HUT, seq + 4, back, card=None, session=session),
            door(HUT, seq + 5, session=session, state=DoorState.CLOSED),
        ]
        visit += 1
    return events[:count]


def apply_in_batches(sessions: sessionmaker[Session], events: Sequence[AnyEvent]) -> None:
    for start in range(0, len(events), BATCH):
        commit_batch(sessions, events[start : start + BATCH])


def commit_batch(sessions: sessionmaker[Session], batch: Sequence[AnyEvent]) -> None:
    from server.storage import queries

    with sessions() as db, db.begin():
        huts = queries.get_huts(db, [HUT])
        apply_batch(db, batch, huts=huts, received_at=T0)


class Writer(threading.Thread):
    """Applies the events through the ledger, one transaction per BATCH, until stopped;
    ``committed``: how many events are committed (set after each commit)."""

    def __init__(self, sessions: sessionmaker[Session], events: Sequence[AnyEvent]) -> None:
        super().__init__(name="ledger-writer", daemon=True)
        self.sessions = sessions
        self.events = events
        self.committed = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._progress = threading.Condition()  # told after every commit and at the end

    def run(self) -> None:
        try:
            for start in range(0, len(self.events), BATCH):
                if self._halt.is_set():
                    return
                batch = self.events[start : start + BATCH]
                commit_batch(self.sessions, batch)
                with self._progress:
                    self.committed = start + len(batch)
                    self._progress.notify_all()
        except BaseException as exc:  # the test reports it
            self.error = exc
        finally:
            with self._progress:
                self._progress.notify_all()

    def wait_for(self, count: int) -> None:
        count = min(count, len(self.events))
        deadline = time.monotonic() + DEADLINE
        with self._progress:
            while self.committed < count:
                assert self.error is None, self.error
                assert self.is_alive(), "the writer stopped early"
                left = deadline - time.monotonic()
                assert left > 0, f"the writer did not reach {count} events"
                self._progress.wait(left)

    def finish(self) -> None:
        self._halt.set()
        self.join(DEADLINE)
        assert self.error is None, self.error


@dataclass
class Databases:
    source: str  # the server's, written to during the backup
    restored: str  # where the backup goes back
    reference: str  # the same events applied afresh
    backup_file: Path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """Three empty databases. PostgreSQL: the source a schema of the session's database
    (as every PostgreSQL test's), the restored one a new database with a schema of the
    same name (a pg_dump archive holds its schema's name), the reference another schema."""
    if request.param == "sqlite":
        yield Databases(
            f"sqlite:///{tmp_path}/server.sqlite3",
            f"sqlite:///{tmp_path}/restored.sqlite3",
            f"sqlite:///{tmp_path}/reference.sqlite3",
            tmp_path / "ledger.backup",
        )
        return
    database = request.getfixturevalue("postgres_url")
    with (
        fresh_postgres_schema(database) as source,
        fresh_postgres_schema(database) as reference,
        fresh_postgres_database(database) as other,
    ):
        options = source.split("?", 1)[1]
        yield Databases(source, f"{other}?{options}", reference, tmp_path / "ledger.dump")


def furnished(url: str) -> sessionmaker[Session]:
    migrate(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
    return sessions


def dispose(sessions: sessionmaker[Session]) -> None:
    bind = sessions.kw["bind"]
    bind.dispose()


def test_a_backup_taken_under_write_load_restores_the_ledger_of_its_events(
    databases: Databases,
) -> None:
    events = visit_events(6000)
    source = furnished(databases.source)
    writer = Writer(source, events)
    writer.start()
    try:
        writer.wait_for(30)
        at_start = writer.committed
        done = backups.backup(databases.source, databases.backup_file)
        at_end = writer.committed
        writer.wait_for(at_end + BATCH)  # and the writer went on after it
    finally:
        writer.finish()
        dispose(source)
    assert done.revision == head_revision() and done.size > 0
    assert databases.backup_file.stat().st_mode & 0o077 == 0  # personal data: 0600

    restored = backups.restore(databases.backup_file, databases.restored)
    assert (restored.revision, restored.head) == (head_revision(), head_revision())
    seqs = [seq for hut, seq, *_ in stored_events(databases.restored) if hut == HUT]
    k = len(seqs)
    assert seqs == list(range(1, k + 1)), "a hole in the restored events"
    assert at_start <= k <= at_end, (at_start, k, at_end)
    assert k % BATCH == 0  # whole transactions only

    reference = furnished(databases.reference)
    try:
        apply_in_batches(reference, events[:k])
    finally:
        dispose(reference)
    expected = ledger_snapshot(databases.reference)
    assert expected["loans"], "the events lent nothing: a weak comparison"
    assert ledger_snapshot(databases.restored) == expected


def test_restore_replaces_a_newer_ledger_and_migrates_to_head(databases: Databases) -> None:
    """Restoring over a database that went on after the backup takes it back to the
    backup, whatever it holds now."""
    events = visit_events(12)
    sessions = furnished(databases.source)
    try:
        apply_in_batches(sessions, events[:6])
        backups.backup(databases.source, databases.backup_file)
        apply_in_batches(sessions, events[6:])
    finally:
        dispose(sessions)
    before = ledger_snapshot(databases.source)
    assert len(before["events"]) == 12
    backups.restore(databases.backup_file, databases.source, force=True)
    assert len(ledger_snapshot(databases.source)["events"]) == 6


def test_restore_refuses_a_database_a_running_server_uses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/server.sqlite3"
    dispose(furnished(url))
    file = tmp_path / "b.sqlite3"
    backups.backup(url, file)
    mark = mark_in_use(url)  # what ServerRuntime.start holds while it runs
    assert mark is not None and lock_path(tmp_path / "server.sqlite3").exists()
    try:
        with pytest.raises(backups.BackupError, match="is in use") as refused:
            backups.restore(file, url)
        assert "--force" in str(refused.value) and "数据库正在使用中" in str(refused.value)
        backups.restore(file, url, force=True)  # told: it restores under the server
    finally:
        mark.release()
    backups.restore(file, url)  # the server is gone: no --force needed


@pytest.mark.postgres
def test_restore_refuses_a_postgres_database_with_other_connections(
    postgres_url: str, tmp_path: Path
) -> None:
    with fresh_postgres_database(postgres_url) as url:  # no other test's connections
        dispose(furnished(url))
        file = tmp_path / "b.dump"
        backups.backup(url, file)
        engine = make_engine(url)
        try:
            with engine.connect() as other:
                other.execute(text("SELECT 1"))
                with pytest.raises(backups.BackupError, match="is in use"):
                    backups.restore(file, url)
        finally:
            engine.dispose()
        backups.restore(file, url)


def test_restore_refuses_what_is_not_a_tool_hut_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/server.sqlite3"
    dispose(furnished(url))
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a backup\n")
    foreign = tmp_path / "foreign.sqlite3"
    with closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE things (id INTEGER)")
    newer = tmp_path / "newer.sqlite3"
    backups.backup(url, newer)
    with closing(sqlite3.connect(newer)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    cases = {
        text_file: "neither a SQLite file nor a pg_dump custom archive",
        foreign: "no migrations table",
        newer: "newer than this server's",
        tmp_path / "missing.sqlite3": "is not a tool hut backup",
    }
    before = ledger_snapshot(url)
    for file, reason in cases.items():
        with pytest.raises(backups.BackupError, match=reason):
            backups.restore(file, url)
    assert ledger_snapshot(url) == before  # nothing was touched


def test_a_backup_never_overwrites_its_own_database(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite3"
    url = f"sqlite:///{path}"
    dispose(furnished(url))
    with pytest.raises(backups.BackupError, match="cannot be the database itself"):
        backups.backup(url, path)
    with pytest.raises(backups.BackupError, match="there is no database"):
        backups.backup(f"sqlite:///{tmp_path}/none.sqlite3", tmp_path / "x")
    assert not (tmp_path / "none.sqlite3").exists()  # and none was made


@pytest.mark.postgres
def test_missing_postgres_tools_are_named(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(backups.BackupError, match="pg_dump not found") as missing:
        backups.backup(postgres_url, tmp_path / "x.dump")
    assert "postgresql-client" in str(missing.value)


def test_the_commands_back_up_and_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/server.sqlite3"
    dispose(furnished(url))
    file = tmp_path / "nightly.sqlite3"
    assert main(["server", "backup", "--db", url, str(file)]) == 0
    out = capsys.readouterr().out
    assert "已备份 / backed up" in out and "the server secret is not in the backup" in out
    target = f"sqlite:///{tmp_path}/restored.sqlite3"
    assert main(["server", "restore", "--db", target, str(file)]) == 0
    assert "已恢复 / restored" in capsys.readouterr().out
    assert ledger_snapshot(target) == ledger_snapshot(url)
    mark = mark_in_use(target)
    try:
        assert main(["server", "restore", "--db", target, str(file)]) == 2
        assert "--force" in capsys.readouterr().err
        assert main(["server", "restore", "--db", target, "--force", str(file)]) == 0
    finally:
        assert mark is not None
        mark.release()
