"""Queries of the reminder scheduler: the due window, claims, leases, display messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Integer,
    Select,
    String,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, selectinload

from server.storage import models
from server.storage.models import Hut, Item, Loan, NotificationRequest, Reservation
from server.storage.reminder_models import (
    DeliveryStatus,
    DisplayMessage,
    MemberContact,
    ReminderAttempt,
    ReminderClaim,
    ReminderDelivery,
    ReminderMessage,
)

# Core tables for the bulk inserts of a planning batch (ORM bulk inserts are slower there).
_DELIVERIES = cast(Table, ReminderDelivery.__table__)
_CLAIMS = cast(Table, ReminderClaim.__table__)
_ATTEMPTS = cast(Table, ReminderAttempt.__table__)
# Rows per multi-row INSERT: small enough that psycopg caches the converted statement
# (it re-parses every long one), large enough to keep round trips few.
_PAGE = 40


@dataclass(frozen=True, slots=True)
class DueLoan:
    loan_id: int
    member_id: int
    hut_id: str
    due_at: datetime
    category: str
    timezone: str
    borrowed_at: datetime
    subject: str = field(init=False)  # computed once: a sweep asks for it several times

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", loan_subject(self.loan_id))


def loan_subject(loan_id: int) -> str:
    return f"loan:{loan_id}"


def stream_due_loans(
    db: Session, *, due_from: datetime, due_to: datetime, chunk: int = 2000
) -> Iterator[DueLoan]:
    """Open loans due in [due_from, due_to], by member then loan, read in chunks.

    The range is served by the partial index of open loans, so returned loans are never read.
    """
    query = (
        _loan_rows()
        .where(Loan.due_at >= due_from, Loan.due_at <= due_to)
        .order_by(Loan.member_id, Loan.id)
        .execution_options(yield_per=chunk)
    )
    for row in db.execute(query):
        yield DueLoan(*row)


def _loan_rows() -> Select[int, int, str, datetime, str, str, datetime]:
    query = (
        select(
            Loan.id,
            Loan.member_id,
            Loan.hut_id,
            Loan.due_at,
            Item.category,
            Hut.timezone,
            Loan.borrowed_at,
        )
        .join(Item, Item.id == Loan.item_id)
        .join(Hut, Hut.id == Loan.hut_id)
        .where(Loan.returned_at.is_(None))
    )
    # The ledger closes lost loans with lost_at (revision 0002); a lost loan is not chased.
    lost_at = getattr(Loan, "lost_at", None)
    return query if lost_at is None else query.where(lost_at.is_(None))


def is_open(loan: Loan) -> bool:
    return loan.returned_at is None and getattr(loan, "lost_at", None) is None


def member_groups(db: Session, member_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Each member's flags (senior, staff ...), the groups a reminder rule may name."""
    flag_row = getattr(models, "MemberFlagRow", None)  # the ledger's, from revision 0002
    ids = sorted(set(member_ids))
    found: dict[int, set[str]] = {}
    if flag_row is None or not ids:
        return {}
    for start in range(0, len(ids), 5000):
        query = select(flag_row.member_id, flag_row.flag).where(
            _one_of(db, flag_row.member_id, ids[start : start + 5000], Integer)
        )
        for member_id, flag in db.execute(query):
            found.setdefault(member_id, set()).add(flag)
    return {member_id: frozenset(flags) for member_id, flags in found.items()}


def _one_of(db: Session, column: Any, values: Sequence[Any], item: Any) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``: one parameter, where a long IN
    list costs a bind parameter each to render and psycopg a fresh parse of the text."""
    if _is_postgres(db):
        return column == any_(bindparam(None, list(values), type_=ARRAY(item)))
    return column.in_(values)


_PG_CLAIMED = text(
    "SELECT c.subject, c.stage FROM unnest(CAST(:subjects AS text[])) AS s(subject) "
    "JOIN reminder_claims AS c ON c.subject = s.subject"
)


def claimed_stages(db: Session, subjects: Sequence[str]) -> set[tuple[str, str]]:
    """The (subject, stage) claims already taken of these subjects.

    On PostgreSQL a join with the unnested array: its cost follows the rows either way.
    ``subject = ANY(array)`` could be planned as a scan of the claims filtered by the whole
    array, row by row, when the table's statistics say it is empty (just vacuumed, or new):
    8.5 s for one sweep of 40,000 due loans in bench/reminder_sweep.py; the join took 0.1-0.5 s."""
    found: set[tuple[str, str]] = set()
    if _is_postgres(db):
        for start in range(0, len(subjects), 50_000):
            chunk = list(subjects[start : start + 50_000])
            found.update(
                (subject, stage) for subject, stage in db.execute(_PG_CLAIMED, {"subjects": chunk})
            )
        return found
    for start in range(0, len(subjects), 5000):
        part = subjects[start : start + 5000]
        query = select(ReminderClaim.subject, ReminderClaim.stage).where(
            _one_of(db, ReminderClaim.subject, part, String)
        )
        found.update((subject, stage) for subject, stage in db.execute(query))
    return found


@dataclass(frozen=True, slots=True)
class NewClaim:
    subject: str
    loan_id: int | None
    stage: str | None = None  # None: the message's stage
    template: str | None = None  # None: worded by the message's template


@dataclass(frozen=True, slots=True)
class NewMessage:
    stage: str
    template: str
    audience: str
    member_id: int | None
    hut_id: str | None
    claims: Sequence[NewClaim]


def create_messages(
    db: Session, messages: Sequence[NewMessage], *, now: datetime
) -> list[tuple[int, list[str]] | None]:
    """Insert the messages and their claims; for each, its id and the subjects it won, or
    None where another process had claimed them all (that message is deleted again).

    INSERT ... ON CONFLICT DO NOTHING on (subject, stage): a second process planning the
    same stage waits for the first one's commit and then gets nothing back. Claims go in
    one statement, in (subject, stage) order, so two planners lock rows in the same order.
    """
    if not messages:
        return []
    if _is_postgres(db):
        ids, won = _create_messages_pg(db, messages, now=now)
    else:
        ids, won = _create_messages_many(db, messages, now=now)
    lost = [mid for mid in ids if mid not in won]
    if lost:
        db.execute(delete(ReminderMessage).where(ReminderMessage.id.in_(lost)))
    return [(mid, won[mid]) if mid in won else None for mid in ids]


def _is_postgres(db: Session) -> bool:
    return bool(db.get_bind().dialect.name == "postgresql")


def _claim_rows(messages: Sequence[NewMessage], ids: Sequence[int]) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "subject": c.subject,
                "stage": c.stage or m.stage,
                "message_id": mid,
                "loan_id": c.loan_id,
                "template": c.template,
            }
            for m, mid in zip(messages, ids, strict=True)
            for c in m.claims
        ),
        key=lambda row: (row["subject"], row["stage"]),
    )


def _create_messages_many(
    db: Session, messages: Sequence[NewMessage], *, now: datetime
) -> tuple[list[int], dict[int, list[str]]]:
    """SQLite: executemany with RETURNING, which SQLAlchemy batches into multi-row INSERTs
    from one cached statement, keeping the rows in order."""
    ids = list(
        db.scalars(
            insert(ReminderMessage)
            .returning(ReminderMessage.id, sort_by_parameter_order=True)
            .execution_options(insertmanyvalues_page_size=_PAGE),
            [
                {
                    "stage": m.stage,
                    "template": m.template,
                    "audience": m.audience,
                    "member_id": m.member_id,
                    "hut_id": m.hut_id,
                    "created_at": now,
                }
                for m in messages
            ],
        )
    )
    won: dict[int, list[str]] = {}
    statement = (
        sqlite.insert(_CLAIMS)
        .on_conflict_do_nothing(index_elements=["subject", "stage"])
        .returning(ReminderClaim.subject, ReminderClaim.message_id)
        .execution_options(insertmanyvalues_page_size=_PAGE)
    )
    for subject, message_id in db.connection().execute(statement, _claim_rows(messages, ids)):
        won.setdefault(message_id, []).append(subject)
    return ids, won


# PostgreSQL: one statement per table with a parameter per column (arrays unnested on the
# server), instead of multi-row VALUES whose long text psycopg re-parses on every page;
# message ids come from the sequence first, so no RETURNING order is relied upon.
_PG_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('reminder_messages', 'id')) FROM generate_series(1, :n)"
)
_PG_MESSAGES = text(
    "INSERT INTO reminder_messages "
    "(id, stage, template, audience, member_id, hut_id, created_at) "
    "SELECT id, stage, template, audience, member_id, hut_id, :created_at "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:stages AS text[]), "
    "CAST(:templates AS text[]), CAST(:audiences AS text[]), CAST(:members AS integer[]), "
    "CAST(:huts AS text[])) AS m(id, stage, template, audience, member_id, hut_id)"
)
_PG_CLAIMS = text(
    "INSERT INTO reminder_claims (subject, stage, message_id, loan_id, template) "
    "SELECT subject, stage, message_id, loan_id, template "
    "FROM unnest(CAST(:subjects AS text[]), CAST(:stages AS text[]), "
    "CAST(:messages AS integer[]), CAST(:loans AS integer[]), CAST(:templates AS text[])) "
    "AS c(subject, stage, message_id, loan_id, template) "
    "ORDER BY subject, stage "
    "ON CONFLICT (subject, stage) DO NOTHING RETURNING subject, message_id"
)
_PG_DELIVERIES = text(
    "INSERT INTO reminder_deliveries "
    "(message_id, channel, address, locale, status, attempts, next_attempt_at) "
    "SELECT message_id, channel, address, locale, :status, 0, :first "
    "FROM unnest(CAST(:messages AS integer[]), CAST(:channels AS text[]), "
    "CAST(:addresses AS text[]), CAST(:locales AS text[])) "
    "AS d(message_id, channel, address, locale)"
)


def _create_messages_pg(
    db: Session, messages: Sequence[NewMessage], *, now: datetime
) -> tuple[list[int], dict[int, list[str]]]:
    ids = [int(i) for i in db.scalars(_PG_NEXT_IDS, {"n": len(messages)})]
    db.execute(
        _PG_MESSAGES,
        {
            "created_at": now,
            "ids": ids,
            "stages": [m.stage for m in messages],
            "templates": [m.template for m in messages],
            "audiences": [m.audience for m in messages],
            "members": [m.member_id for m in messages],
            "huts": [m.hut_id for m in messages],
        },
    )
    rows = _claim_rows(messages, ids)
    won: dict[int, list[str]] = {}
    found = db.execute(
        _PG_CLAIMS,
        {
            "subjects": [r["subject"] for r in rows],
            "stages": [r["stage"] for r in rows],
            "messages": [r["message_id"] for r in rows],
            "loans": [r["loan_id"] for r in rows],
            "templates": [r["template"] for r in rows],
        },
    )
    for subject, message_id in found:
        won.setdefault(message_id, []).append(subject)
    for subjects in won.values():
        subjects.sort()
    return ids, won


def set_payload(db: Session, message_id: int, payload: list[dict[str, Any]]) -> None:
    """The lines a message carries itself (written by ``server.reminders.payloads``)."""
    db.execute(
        update(ReminderMessage)
        .where(ReminderMessage.id == message_id)
        .values(payload=payload)
        .execution_options(synchronize_session=False)
    )


def add_deliveries(
    db: Session,
    targets: Iterable[tuple[int, str, str | None, str]],
    *,
    first_attempt_at: datetime,
) -> int:
    """One delivery per (message id, channel, address, locale) target; returns how many."""
    rows = [
        {
            "message_id": message_id,
            "channel": channel,
            "address": address,
            "locale": locale,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": first_attempt_at,
        }
        for message_id, channel, address, locale in targets
    ]
    if not rows:
        return 0
    if _is_postgres(db):
        db.execute(
            _PG_DELIVERIES,
            {
                "status": DeliveryStatus.PENDING,
                "first": first_attempt_at,
                "messages": [r["message_id"] for r in rows],
                "channels": [r["channel"] for r in rows],
                "addresses": [r["address"] for r in rows],
                "locales": [r["locale"] for r in rows],
            },
        )
    else:
        db.connection().execute(insert(_DELIVERIES), rows)
    return len(rows)


def contacts_of(db: Session, member_ids: Iterable[int]) -> dict[int, dict[str, MemberContact]]:
    ids = sorted(set(member_ids))
    found: dict[int, dict[str, MemberContact]] = {}
    for start in range(0, len(ids), 5000):
        part = ids[start : start + 5000]
        query = select(MemberContact).where(_one_of(db, MemberContact.member_id, part, Integer))
        for contact in db.scalars(query):
            found.setdefault(contact.member_id, {})[contact.channel] = contact
    return found


def set_contact(
    db: Session, *, member_id: int, channel: str, address: str, locale: str = "zh"
) -> MemberContact:
    contact = db.scalars(
        select(MemberContact).where(
            MemberContact.member_id == member_id, MemberContact.channel == channel
        )
    ).one_or_none()
    if contact is None:
        contact = MemberContact(member_id=member_id, channel=channel, address=address)
        db.add(contact)
    contact.address = address
    contact.locale = locale
    return contact


def lease_deliveries(
    db: Session,
    *,
    now: datetime,
    worker: str,
    until: datetime,
    limit: int,
    message_ids: Sequence[int] | None = None,
) -> list[int]:
    """Lease up to ``limit`` deliveries that are due and not leased by a live worker.

    The lease is a conditional UPDATE: under concurrency PostgreSQL re-checks the condition
    after waiting for the other writer, so two workers never hold the same delivery.
    """
    free = [
        ReminderDelivery.status == DeliveryStatus.PENDING,
        ReminderDelivery.next_attempt_at <= now,
        or_(ReminderDelivery.claimed_until.is_(None), ReminderDelivery.claimed_until < now),
    ]
    candidates = select(ReminderDelivery.id).where(*free)
    if message_ids is not None:
        candidates = candidates.where(ReminderDelivery.message_id.in_(message_ids))
    ids = list(db.scalars(candidates.order_by(ReminderDelivery.next_attempt_at).limit(limit)))
    if not ids:
        return []
    statement = (
        update(ReminderDelivery)
        .where(ReminderDelivery.id.in_(ids), *free)
        .values(claimed_by=worker, claimed_until=until, attempts=ReminderDelivery.attempts + 1)
        .returning(ReminderDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(db.scalars(statement))


def load_delivery(db: Session, delivery_id: int) -> ReminderDelivery | None:
    query = (
        select(ReminderDelivery)
        .where(ReminderDelivery.id == delivery_id)
        .options(
            selectinload(ReminderDelivery.message).selectinload(ReminderMessage.member),
            selectinload(ReminderDelivery.message)
            .selectinload(ReminderMessage.claims)
            .selectinload(ReminderClaim.loan)
            .selectinload(Loan.item),
            selectinload(ReminderDelivery.message)
            .selectinload(ReminderMessage.claims)
            .selectinload(ReminderClaim.loan)
            .selectinload(Loan.member),
        )
    )
    return db.scalars(query).one_or_none()


def load_deliveries(db: Session, delivery_ids: Sequence[int]) -> list[ReminderDelivery]:
    """The deliveries with what rendering needs (message, member, loans with item and
    member), in a handful of queries whatever their number."""
    message = selectinload(ReminderDelivery.message)
    loan = message.selectinload(ReminderMessage.claims).selectinload(ReminderClaim.loan)
    query = (
        select(ReminderDelivery)
        .where(_one_of(db, ReminderDelivery.id, delivery_ids, Integer))
        .order_by(ReminderDelivery.id)
        .options(
            message.selectinload(ReminderMessage.member),
            loan.selectinload(Loan.item),
            loan.selectinload(Loan.member),
        )
    )
    return list(db.scalars(query))


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one leased delivery ended; every column is written, so one statement fits all."""

    delivery_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    error: str | None
    sent_at: datetime | None
    attempted: bool = True  # False: given back unsent (lease running out), no attempt row


def record_outcomes(
    db: Session, outcomes: Sequence[Outcome], *, worker: str, now: datetime
) -> None:
    """Close the leases of a chunk with their outcomes and log the attempts: two
    statements, however many deliveries. A lease another worker took over is left alone."""
    if not outcomes:
        return
    deliveries = _DELIVERIES.c
    statement = (
        update(_DELIVERIES)
        .where(deliveries.id == bindparam("b_id"), deliveries.claimed_by == worker)
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            last_error=bindparam("b_error"),
            sent_at=bindparam("b_sent"),
            claimed_until=None,
        )
    )
    db.connection().execute(
        statement,
        [
            {
                "b_id": o.delivery_id,
                "b_status": o.status,
                "b_attempts": o.attempts,
                "b_next": o.next_attempt_at,
                "b_error": o.error,
                "b_sent": o.sent_at,
            }
            for o in outcomes
        ],
    )
    attempts = [
        {
            "delivery_id": o.delivery_id,
            "at": now,
            "ok": o.status in (DeliveryStatus.SENT, DeliveryStatus.CANCELLED),
            "error": o.error,
            "worker": worker,
        }
        for o in outcomes
        if o.attempted
    ]
    if attempts:
        db.connection().execute(insert(_ATTEMPTS), attempts)


# --- the ledger's notification requests ---------------------------------------------------


def notice_subject(request_id: int) -> str:
    return f"notice:{request_id}"


@dataclass(frozen=True, slots=True)
class Notice:
    request_id: int
    kind: str
    member_id: int | None
    hut_id: str | None
    text: str
    item_zh: str
    item_en: str
    category: str | None
    hold_until: datetime | None

    @property
    def subject(self) -> str:
        return notice_subject(self.request_id)


def unsent_notices(db: Session, *, since: datetime) -> list[Notice]:
    """Notification requests not yet sent, created since ``since``, oldest first."""
    query = (
        select(NotificationRequest, Item.name_zh, Item.name_en, Item.category)
        .outerjoin(Item, Item.id == NotificationRequest.item_id)
        .where(NotificationRequest.sent_at.is_(None), NotificationRequest.created_at >= since)
        .order_by(NotificationRequest.id)
        .options(selectinload(NotificationRequest.reservation))
    )
    return [
        Notice(
            request_id=request.id,
            kind=request.kind,
            member_id=request.member_id,
            hut_id=request.hut_id,
            text=request.text,
            item_zh=name_zh or "",
            item_en=name_en or "",
            category=category,
            hold_until=None if request.reservation is None else request.reservation.hold_until,
        )
        for request, name_zh, name_en, category in db.execute(query)
    ]


def live_notices(db: Session, request_ids: Sequence[int], *, now: datetime) -> set[int]:
    """Those of the requests still worth sending: not withdrawn by the ledger, and for a
    hold, the hold still current."""
    if not request_ids:
        return set()
    query = (
        select(NotificationRequest.id, Reservation.state, Reservation.hold_until)
        .outerjoin(Reservation, Reservation.id == NotificationRequest.reservation_id)
        .where(_one_of(db, NotificationRequest.id, request_ids, Integer))
    )
    return {
        request_id
        for request_id, state, hold_until in db.execute(query)
        if state is None or (state == "held" and (hold_until is None or hold_until > now))
    }


def mark_notices_sent(db: Session, request_ids: Iterable[int], *, now: datetime) -> None:
    ids = sorted(set(request_ids))
    if ids:
        db.execute(
            update(NotificationRequest)
            .where(
                _one_of(db, NotificationRequest.id, ids, Integer),
                NotificationRequest.sent_at.is_(None),
            )
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        )


class HutPlace(NamedTuple):
    """What a message says of a hut (its name) and the zone its dates are in."""

    name: str
    timezone: str


def hut_places(db: Session) -> dict[str, HutPlace]:
    rows = db.execute(select(Hut.id, Hut.name, Hut.timezone))
    return {hut_id: HutPlace(name, timezone) for hut_id, name, timezone in rows}


def record_attempt(
    db: Session,
    *,
    delivery_id: int,
    worker: str,
    now: datetime,
    status: str,
    error: str | None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Close the lease with the outcome, and log the attempt."""
    values: dict[str, Any] = {"status": status, "claimed_until": None, "last_error": error}
    if status == DeliveryStatus.SENT:
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    db.execute(
        update(ReminderDelivery)
        .where(ReminderDelivery.id == delivery_id, ReminderDelivery.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.add(
        ReminderAttempt(
            delivery_id=delivery_id,
            at=now,
            ok=status in (DeliveryStatus.SENT, DeliveryStatus.CANCELLED),
            error=error,
            worker=worker,
        )
    )


def open_loans_of(db: Session, member_id: int) -> list[DueLoan]:
    query = _loan_rows().where(Loan.member_id == member_id).order_by(Loan.due_at, Loan.id)
    return [DueLoan(*row) for row in db.execute(query)]


def add_display_message(db: Session, *, member_id: int, text: str, now: datetime) -> None:
    db.add(DisplayMessage(member_id=member_id, text=text, created_at=now))


def take_display_message(db: Session, *, member_id: int, now: datetime) -> str | None:
    """The newest pending display line of the member; all pending ones count as shown.

    One UPDATE ... RETURNING on the Connection (a card tap asks on every unlock, nearly
    always for nothing): the rows it marks are locked by the update itself, and a line
    added in this session is flushed first."""
    db.flush()
    rows = db.connection().execute(_TAKE_DISPLAY, {"member": member_id, "now": now}).all()
    if not rows:
        return None
    newest = max(rows, key=lambda row: (row.created_at, row.id))
    return str(newest.text)


_DISPLAY = cast(Table, DisplayMessage.__table__)
_TAKE_DISPLAY = (
    update(_DISPLAY)
    .where(_DISPLAY.c.member_id == bindparam("member"), _DISPLAY.c.shown_at.is_(None))
    .values(shown_at=bindparam("now"))
    .returning(_DISPLAY.c.id, _DISPLAY.c.text, _DISPLAY.c.created_at)
)


def deliveries_of_member(db: Session, member_id: int, *, limit: int = 50) -> list[Any]:
    query = (
        select(ReminderDelivery, ReminderMessage)
        .join(ReminderMessage, ReminderMessage.id == ReminderDelivery.message_id)
        .where(ReminderMessage.member_id == member_id)
        .order_by(ReminderMessage.created_at.desc(), ReminderDelivery.id)
        .limit(limit)
    )
    return [tuple(row) for row in db.execute(query)]


__all__ = [
    "DueLoan",
    "NewClaim",
    "NewMessage",
    "add_deliveries",
    "add_display_message",
    "claimed_stages",
    "contacts_of",
    "create_messages",
    "deliveries_of_member",
    "HutPlace",
    "hut_places",
    "is_open",
    "lease_deliveries",
    "Notice",
    "Outcome",
    "live_notices",
    "load_deliveries",
    "load_delivery",
    "mark_notices_sent",
    "notice_subject",
    "record_outcomes",
    "unsent_notices",
    "loan_subject",
    "member_groups",
    "open_loans_of",
    "record_attempt",
    "set_contact",
    "set_payload",
    "stream_due_loans",
    "take_display_message",
]
