"""The events table in bulk, each hut's watermark (its row is the hut's ingest lock), the
gaps staff should see and the cards read in enrol mode."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.storage.coltypes import UtcDateTime
from server.storage.ingest_models import EnrolmentCandidate, GapKind, HutSequence, SequenceGap
from server.storage.models import EventRecord


@dataclass(frozen=True, slots=True)
class Claim:
    """One event's row to insert, keyed by the globally unique event id."""

    event_id: str
    hut_id: str
    seq: int
    type: str
    ts: datetime
    payload: str  # the event as JSON text: the model's, every field


@dataclass(frozen=True, slots=True)
class HeldRow:
    row_id: int
    payload: dict[str, Any]
    received_at: datetime


@dataclass(slots=True)
class Watermark:
    """A hut's watermark row (hut_sequences) as ``lock_sequences`` read it: ``HutRun``
    moves it on, ``save_watermarks`` writes the rows that moved."""

    hut_id: str
    applied_seq: int
    held: int
    held_since: datetime | None
    stored: tuple[int, int, datetime | None] = field(init=False)

    def __post_init__(self) -> None:
        self.stored = (self.applied_seq, self.held, self.held_since)

    @property
    def moved(self) -> bool:
        return (self.applied_seq, self.held, self.held_since) != self.stored


_SEQUENCES = cast(Table, HutSequence.__table__)


# Each hut's watermark row, created if missing and locked, in one statement: an upsert that
# "updates" an existing row to itself takes its row lock (PostgreSQL) and, being a write
# first, SQLite's write lock at once (a read first could not upgrade after another
# process's commit). Built once per dialect, run as an executemany (rows in the order
# given: hut order, so two processes taking several huts lock them in one order and
# cannot deadlock), through the Connection: the ORM's bulk insert path and a second
# statement (insert, then SELECT ... FOR UPDATE) were most of a lone event's lock cost.
def _lock_statement(insert: Any) -> Any:
    statement = insert(_SEQUENCES).values(hut_id=bindparam("hut"), applied_seq=0, held=0)
    columns = _SEQUENCES.c
    return statement.on_conflict_do_update(
        index_elements=[columns.hut_id], set_={"hut_id": statement.excluded.hut_id}
    ).returning(columns.hut_id, columns.applied_seq, columns.held, columns.held_since)


_LOCK_SEQUENCES = {
    "postgresql": _lock_statement(postgresql.insert),
    "sqlite": _lock_statement(sqlite.insert),
}
_SAVE_WATERMARK = (
    update(_SEQUENCES)
    .where(_SEQUENCES.c.hut_id == bindparam("hut"))
    .values(
        applied_seq=bindparam("new_applied"),
        held=bindparam("new_held"),
        held_since=bindparam("new_since"),
    )
)


def lock_sequences(db: Session, hut_ids: Iterable[str]) -> dict[str, Watermark]:
    """Each hut's watermark row, created if missing, locked until the transaction ends.

    Locked in hut id order, so two processes taking several huts cannot deadlock."""
    ids = sorted(set(hut_ids))
    if not ids:
        return {}
    connection = db.connection()
    statement = _LOCK_SEQUENCES[connection.dialect.name]
    if len(ids) == 1:
        rows = connection.execute(statement, {"hut": ids[0]}).all()
    else:
        params = [{"hut": hut} for hut in ids]
        rows = connection.execute(statement, params).all()
    return {hut: Watermark(hut, applied, held, since) for hut, applied, held, since in rows}


def save_watermarks(db: Session, marks: Iterable[Watermark]) -> None:
    """Write the watermarks that moved, in one executemany."""
    rows = [
        {"hut": m.hut_id, "new_applied": m.applied_seq, "new_held": m.held,
         "new_since": m.held_since}
        for m in marks
        if m.moved
    ]  # fmt: skip
    if rows:
        db.connection().execute(_SAVE_WATERMARK, rows)


def claim_events(
    db: Session, claims: Sequence[Claim], *, received_at: datetime, outcome: str
) -> dict[str, int]:
    """Insert the rows of events never seen; return {event_id: row id} of those inserted.

    One INSERT ... ON CONFLICT DO NOTHING RETURNING for the whole batch: the unique key
    decides, so a second process handed the same event waits for the first's commit and
    then skips it."""
    if not claims:
        return {}
    dialect = db.get_bind().dialect
    table = cast(Table, EventRecord.__table__)
    if dialect.name == "postgresql":
        stored_ts: Callable[[datetime], Any] = datetime.isoformat  # timestamptz reads ISO
        statement = _PG_CLAIM
    else:  # SQLite keeps the text the column type writes
        stored_ts = table.c.ts.type.dialect_impl(dialect).bind_processor(dialect) or str
        statement = _SQLITE_CLAIM
    document = _document(claims, stored_ts)
    params = {"rows": document, "received_at": received_at, "outcome": outcome}
    rows = db.connection().execute(statement, params)
    return {event_id: row_id for event_id, row_id in rows}


def _document(claims: Sequence[Claim], stored_ts: Callable[[datetime], Any]) -> str:
    """The claims as one JSON array of row objects, each payload's own text spliced in as
    its row's last member (it is the model's JSON: not decoded and encoded again here,
    parsed once, by the database)."""
    rows = (
        json.dumps(
            {
                "event_id": c.event_id,
                "hut_id": c.hut_id,
                "seq": c.seq,
                "type": c.type,
                "ts": stored_ts(c.ts),
            }
        )[:-1]
        + ',"payload":'
        + c.payload
        + "}"
        for c in claims
    )
    return "[" + ",".join(rows) + "]"


# The batch's rows as one JSON document, turned into rows by the database. On PostgreSQL,
# multi-row VALUES pages (what executemany becomes) are long texts that psycopg parses anew
# for every batch, and arrays of JSON texts cost psycopg an escaping pass per element:
# either was about half the cost of a batch's claim. On SQLite it saves the per-row
# parameter processing of executemany.
_PG_CLAIM = text(
    "INSERT INTO events (event_id, hut_id, seq, type, ts, received_at, payload, outcome) "
    "SELECT r.event_id, r.hut_id, r.seq, r.type, r.ts, :received_at, r.payload, :outcome "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
    "AS r(event_id text, hut_id text, seq bigint, type text, ts timestamptz, payload jsonb) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, id"
)
_SQLITE_CLAIM = text(
    "INSERT INTO events (event_id, hut_id, seq, type, ts, received_at, payload, outcome) "
    "SELECT json_extract(value, '$.event_id'), json_extract(value, '$.hut_id'), "
    "json_extract(value, '$.seq'), json_extract(value, '$.type'), json_extract(value, '$.ts'), "
    ":received_at, json_extract(value, '$.payload'), :outcome "
    "FROM json_each(:rows) WHERE true "  # WHERE: SQLite's upsert after a SELECT needs one
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, id"
).bindparams(bindparam("received_at", type_=UtcDateTime()))


def outcomes_of(db: Session, event_ids: Iterable[str]) -> dict[str, str]:
    ids = list(event_ids)
    if not ids:
        return {}
    query = select(EventRecord.event_id, EventRecord.outcome).where(EventRecord.event_id.in_(ids))
    return {event_id: outcome for event_id, outcome in db.execute(query)}


def set_outcomes(db: Session, rows: Sequence[tuple[int, str, str | None]]) -> None:
    """(row id, outcome, reason) for each row, in one executemany."""
    if not rows:
        return
    table = cast(Table, EventRecord.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(outcome=bindparam("new_outcome"), reason=bindparam("new_reason"))
    )
    db.connection().execute(
        statement,
        [{"row_id": r, "new_outcome": o, "new_reason": why} for r, o, why in rows],
    )


def held_rows(db: Session, hut_id: str, *, outcome: str) -> list[HeldRow]:
    query = (
        select(EventRecord.id, EventRecord.payload, EventRecord.received_at)
        .where(EventRecord.hut_id == hut_id, EventRecord.outcome == outcome)
        .order_by(EventRecord.seq)
    )
    return [HeldRow(row_id, payload, at) for row_id, payload, at in db.execute(query)]


def huts_held_since(db: Session, *, before: datetime) -> list[str]:
    """Huts whose oldest held event arrived at or before ``before``."""
    query = (
        select(HutSequence.hut_id)
        .where(HutSequence.held > 0, HutSequence.held_since <= before)
        .order_by(HutSequence.hut_id)
    )
    return list(db.scalars(query))


def gap_containing(db: Session, hut_id: str, seq: int) -> SequenceGap | None:
    query = (
        select(SequenceGap)
        .where(
            SequenceGap.hut_id == hut_id,
            SequenceGap.kind == GapKind.MISSING,
            SequenceGap.first_seq <= seq,
            SequenceGap.last_seq >= seq,
        )
        .order_by(SequenceGap.id.desc())
    )
    return db.scalars(query).first()


def add_gap(
    db: Session,
    *,
    hut_id: str,
    kind: str,
    first_seq: int,
    last_seq: int,
    at: datetime,
    detail: str = "",
) -> SequenceGap:
    gap = SequenceGap(
        hut_id=hut_id,
        kind=kind,
        first_seq=first_seq,
        last_seq=last_seq,
        detected_at=at,
        late=0,
        detail=detail,
    )
    db.add(gap)
    return gap


def list_gaps(db: Session, *, hut_id: str | None = None) -> Sequence[SequenceGap]:
    query = select(SequenceGap).order_by(SequenceGap.id)
    if hut_id is not None:
        query = query.where(SequenceGap.hut_id == hut_id)
    return db.scalars(query).all()


def add_enrolment(
    db: Session,
    *,
    hut_id: str,
    card_uid: str,
    event_id: str,
    at: datetime,
    member_id: int | None,
) -> None:
    db.add(
        EnrolmentCandidate(
            hut_id=hut_id, card_uid=card_uid, event_id=event_id, read_at=at, member_id=member_id
        )
    )


def list_enrolments(db: Session, *, hut_id: str, limit: int = 100) -> Sequence[EnrolmentCandidate]:
    query = (
        select(EnrolmentCandidate)
        .where(EnrolmentCandidate.hut_id == hut_id)
        .order_by(EnrolmentCandidate.read_at.desc(), EnrolmentCandidate.id.desc())
        .limit(limit)
    )
    return db.scalars(query).all()
