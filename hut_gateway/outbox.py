"""The gateway's durable outbox: every event is written here before it is published, and
leaves only when the server acknowledges that it committed it.

It also owns the hut's sequence counter, so sequence numbers survive restarts and an event
keeps the number it was first given however often it is resent; and the door as the
gateway last knew it, written with the door event that changed it, so a restarted gateway
tells a door that moved meanwhile from the controller's report of where it is.

Each event is stored sealed (as it goes on the wire) and encrypted with the hut's outbox
key (AES-GCM, a random nonce, the event id as associated data): a copy of the SD card
shows no card UID. Rows of an older gateway, plain JSON, are sealed when they are read and
drain as before.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hut_gateway.data_dir import private_file, tighten
from toolhut.contract import AnyEvent, TopicKind
from toolhut.hut_keys import HutKey

log = logging.getLogger(__name__)

_ENCRYPTED = b"\x01"  # first byte of an encrypted row; a plain row of old starts with "{"
_NONCE = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counter (
    hut      TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS door (
    hut   TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
"""
_SET_DOOR = (
    "INSERT INTO door (hut, state) VALUES (?, ?) "
    "ON CONFLICT (hut) DO UPDATE SET state = excluded.state"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """An event waiting for the server's ack; ``payload`` is what to publish (sealed)."""

    seq: int
    id: str
    payload: bytes


class _AtRest:
    """What the outbox stores of a sealed event, and back."""

    def __init__(self, key: HutKey) -> None:
        self._key = key
        self._aead = AESGCM(key.outbox_key)

    def close(self, event_id: str, sealed: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return _ENCRYPTED + nonce + self._aead.encrypt(nonce, sealed, event_id.encode())

    def open(self, event_id: str, stored: bytes) -> bytes:
        if stored.startswith(b"{"):  # written by a gateway before encryption: seal it now
            return self._key.seal(TopicKind.EVENTS, stored)
        if not stored.startswith(_ENCRYPTED):
            raise ValueError("not an outbox row")
        nonce, box = stored[1 : 1 + _NONCE], stored[1 + _NONCE :]
        return self._aead.decrypt(nonce, box, event_id.encode())


class Outbox:
    """Thread-safe; one SQLite file per hut gateway, 0600 with its -wal and -shm files."""

    def __init__(self, path: Path, *, key: HutKey) -> None:
        private_file(path)
        self._hut = key.hut
        self._key = key
        self._at_rest = _AtRest(key)
        self._unreadable: set[int] = set()  # rows already reported, so it is said once
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL + FULL: a commit is on the card before the event is published, so a power cut
        # cannot take back an event (or its sequence number) that the server may have seen.
        # About 0.3 ms a commit here; the door never waits on it, it unlocks first.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # SQLite made them with the database's mode; ones an older gateway left are fixed.
        tighten(path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))

    def append(
        self, build: Callable[[int], AnyEvent], *, door: str | None = None
    ) -> tuple[AnyEvent, Pending]:
        """Give the next sequence number to ``build`` and store the event it returns;
        ``door``: a door event's new state, kept in the same transaction (``door()``)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT last_seq FROM counter WHERE hut = ?", (self._hut,)
                ).fetchone()
                seq = (row[0] if row else 0) + 1
                event = build(seq)
                self._db.execute(
                    "INSERT INTO counter (hut, last_seq) VALUES (?, ?) "
                    "ON CONFLICT (hut) DO UPDATE SET last_seq = excluded.last_seq",
                    (self._hut, seq),
                )
                stored = Pending(seq, event.id, event.sealed(self._key))
                self._db.execute(
                    "INSERT INTO outbox (seq, id, payload) VALUES (?, ?, ?)",
                    (stored.seq, stored.id, self._at_rest.close(event.id, stored.payload)),
                )
                if door is not None:
                    self._db.execute(_SET_DOOR, (self._hut, door))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return event, stored

    def pending(self, *, after: int = 0, limit: int = 1000) -> list[Pending]:
        """Up to ``limit`` waiting events with a sequence number above ``after``, in order:
        one query per batch, so a long drain reads the file in pages."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        pending = []
        for seq, event_id, stored in rows:
            try:
                pending.append(Pending(seq, event_id, self._at_rest.open(event_id, bytes(stored))))
            except (InvalidTag, ValueError):
                # Kept (another hut key may open it); the server's gap timeout moves on.
                if seq not in self._unreadable:
                    self._unreadable.add(seq)
                    log.error("outbox event seq %d cannot be opened with this hut's key", seq)
        return pending

    def remove(self, ids: Iterable[str]) -> int:
        """Forget acked events: one transaction per ack batch, not per event, and one that
        does not wait for the card (WAL, synchronous NORMAL for it alone). The server has
        committed these events: a power cut that takes the delete back only makes the
        gateway publish them again, and the server acks them ``duplicate``. The next
        append's sync puts the delete on the card too. A sync here held the outbox lock,
        and paho's network thread that runs the ack, for a card write, while the next
        scan's append waited behind it."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    cur = self._db.executemany(
                        "DELETE FROM outbox WHERE id = ?", ((i,) for i in ids)
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            finally:
                self._db.execute("PRAGMA synchronous=FULL")  # every append stays durable
            return cur.rowcount

    def door(self) -> str | None:
        """The door as the gateway last knew it ("open", "closed"), kept across restarts;
        None before the controller first said."""
        with self._lock:
            row = self._db.execute("SELECT state FROM door WHERE hut = ?", (self._hut,)).fetchone()
        return None if row is None else str(row[0])

    def set_door(self, state: str) -> None:
        """Keep the door the controller reported, with no event (``append`` keeps a door
        event's)."""
        with self._lock:
            self._db.execute(_SET_DOOR, (self._hut, state))

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def totals(self) -> tuple[int, int]:
        """(events ever recorded, events waiting), read together: an event leaves only when
        the server acks it, so the difference is the events acked. For the metrics."""
        with self._lock:
            row = self._db.execute(
                "SELECT (SELECT last_seq FROM counter WHERE hut = ?),"
                " (SELECT count(*) FROM outbox)",
                (self._hut,),
            ).fetchone()
        return int(row[0] or 0), int(row[1])

    def close(self) -> None:
        with self._lock:
            self._db.close()
