"""Queries of the reminder scheduler: the due window, claims, leases, display messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from server.domain import MemberStatus
from server.storage import models
from server.storage.models import Hut, Item, Loan, Member
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

    @property
    def subject(self) -> str:
        return loan_subject(self.loan_id)


def loan_subject(loan_id: int) -> str:
    return f"loan:{loan_id}"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def stream_due_loans(
    session: Session, *, due_from: datetime, due_to: datetime, chunk: int = 2000
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
    for row in session.execute(query):
        yield DueLoan(*row)


def _loan_rows() -> Select[int, int, str, datetime, str, str]:
    query = (
        select(Loan.id, Loan.member_id, Loan.hut_id, Loan.due_at, Item.category, Hut.timezone)
        .join(Item, Item.id == Loan.item_id)
        .join(Hut, Hut.id == Loan.hut_id)
        .where(Loan.returned_at.is_(None))
    )
    # The ledger closes lost loans with lost_at (revision 0002); a lost loan is not chased.
    lost_at = getattr(Loan, "lost_at", None)
    return query if lost_at is None else query.where(lost_at.is_(None))


def is_open(loan: Loan) -> bool:
    return loan.returned_at is None and getattr(loan, "lost_at", None) is None


def member_groups(session: Session, member_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Each member's flags (senior, staff ...), the groups a reminder rule may name."""
    flag_row = getattr(models, "MemberFlagRow", None)  # the ledger's, from revision 0002
    ids = sorted(set(member_ids))
    found: dict[int, set[str]] = {}
    if flag_row is None or not ids:
        return {}
    for start in range(0, len(ids), 5000):
        query = select(flag_row.member_id, flag_row.flag).where(
            flag_row.member_id.in_(ids[start : start + 5000])
        )
        for member_id, flag in session.execute(query):
            found.setdefault(member_id, set()).add(flag)
    return {member_id: frozenset(flags) for member_id, flags in found.items()}


def claimed_stages(session: Session, subjects: Sequence[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for start in range(0, len(subjects), 5000):
        part = subjects[start : start + 5000]
        query = select(ReminderClaim.subject, ReminderClaim.stage).where(
            ReminderClaim.subject.in_(part)
        )
        found.update((subject, stage) for subject, stage in session.execute(query))
    return found


@dataclass(frozen=True, slots=True)
class NewClaim:
    subject: str
    loan_id: int | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    stage: str
    template: str
    audience: str
    member_id: int | None
    hut_id: str | None
    claims: Sequence[NewClaim]


def create_messages(
    session: Session, messages: Sequence[NewMessage], *, now: datetime
) -> list[tuple[int, list[str]] | None]:
    """Insert the messages and their claims; for each, its id and the subjects it won, or
    None where another process had claimed them all (that message is deleted again).

    INSERT ... ON CONFLICT DO NOTHING on (subject, stage): a second process planning the
    same stage waits for the first one's commit and then gets nothing back. Claims go in
    one statement, in (subject, stage) order, so two planners lock rows in the same order.
    """
    if not messages:
        return []
    ids = list(
        session.scalars(
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
    rows = sorted(
        (
            {"subject": c.subject, "stage": m.stage, "message_id": mid, "loan_id": c.loan_id}
            for m, mid in zip(messages, ids, strict=True)
            for c in m.claims
        ),
        key=lambda row: (row["subject"], row["stage"]),
    )
    won: dict[int, list[str]] = {}
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insert
    # many values") from one cached statement, keeping the rows in order.
    statement = (
        _insert(session)(_CLAIMS)
        .on_conflict_do_nothing(index_elements=["subject", "stage"])
        .returning(ReminderClaim.subject, ReminderClaim.message_id)
        .execution_options(insertmanyvalues_page_size=_PAGE)
    )
    for subject, message_id in session.connection().execute(statement, rows):
        won.setdefault(message_id, []).append(subject)
    lost = [mid for mid in ids if mid not in won]
    if lost:
        session.execute(delete(ReminderMessage).where(ReminderMessage.id.in_(lost)))
    return [(mid, won[mid]) if mid in won else None for mid in ids]


def add_deliveries(
    session: Session,
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
    if rows:
        session.connection().execute(insert(_DELIVERIES), rows)
    return len(rows)


def contacts_of(session: Session, member_ids: Iterable[int]) -> dict[int, dict[str, MemberContact]]:
    ids = sorted(set(member_ids))
    found: dict[int, dict[str, MemberContact]] = {}
    for start in range(0, len(ids), 5000):
        query = select(MemberContact).where(MemberContact.member_id.in_(ids[start : start + 5000]))
        for contact in session.scalars(query):
            found.setdefault(contact.member_id, {})[contact.channel] = contact
    return found


def set_contact(
    session: Session, *, member_id: int, channel: str, address: str, locale: str = "zh"
) -> MemberContact:
    contact = session.scalars(
        select(MemberContact).where(
            MemberContact.member_id == member_id, MemberContact.channel == channel
        )
    ).one_or_none()
    if contact is None:
        contact = MemberContact(member_id=member_id, channel=channel, address=address)
        session.add(contact)
    contact.address = address
    contact.locale = locale
    return contact


def suspend_members(session: Session, member_ids: Iterable[int]) -> None:
    ids = sorted(set(member_ids))
    if ids:
        session.execute(
            update(Member).where(Member.id.in_(ids)).values(status=MemberStatus.SUSPENDED)
        )


def lease_deliveries(
    session: Session,
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
    ids = list(session.scalars(candidates.order_by(ReminderDelivery.next_attempt_at).limit(limit)))
    if not ids:
        return []
    statement = (
        update(ReminderDelivery)
        .where(ReminderDelivery.id.in_(ids), *free)
        .values(claimed_by=worker, claimed_until=until, attempts=ReminderDelivery.attempts + 1)
        .returning(ReminderDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement))


def load_delivery(session: Session, delivery_id: int) -> ReminderDelivery | None:
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
    return session.scalars(query).one_or_none()


def hut_timezones(session: Session) -> dict[str, str]:
    return {hut.id: hut.timezone for hut in session.scalars(select(Hut))}


def record_attempt(
    session: Session,
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
    session.execute(
        update(ReminderDelivery)
        .where(ReminderDelivery.id == delivery_id, ReminderDelivery.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.add(
        ReminderAttempt(
            delivery_id=delivery_id,
            at=now,
            ok=status in (DeliveryStatus.SENT, DeliveryStatus.CANCELLED),
            error=error,
            worker=worker,
        )
    )


def open_loans_of(session: Session, member_id: int) -> list[DueLoan]:
    query = _loan_rows().where(Loan.member_id == member_id).order_by(Loan.due_at, Loan.id)
    return [DueLoan(*row) for row in session.execute(query)]


def add_display_message(session: Session, *, member_id: int, text: str, now: datetime) -> None:
    session.add(DisplayMessage(member_id=member_id, text=text, created_at=now))


def take_display_message(session: Session, *, member_id: int, now: datetime) -> str | None:
    """The newest pending display line of the member; all pending ones count as shown."""
    pending = list(
        session.scalars(
            select(DisplayMessage)
            .where(DisplayMessage.member_id == member_id, DisplayMessage.shown_at.is_(None))
            .order_by(DisplayMessage.created_at.desc(), DisplayMessage.id.desc())
            .with_for_update()
        )
    )
    for message in pending:
        message.shown_at = now
    return pending[0].text if pending else None


def deliveries_of_member(session: Session, member_id: int, *, limit: int = 50) -> list[Any]:
    query = (
        select(ReminderDelivery, ReminderMessage)
        .join(ReminderMessage, ReminderMessage.id == ReminderDelivery.message_id)
        .where(ReminderMessage.member_id == member_id)
        .order_by(ReminderMessage.created_at.desc(), ReminderDelivery.id)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]


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
    "hut_timezones",
    "is_open",
    "lease_deliveries",
    "load_delivery",
    "loan_subject",
    "member_groups",
    "open_loans_of",
    "record_attempt",
    "set_contact",
    "stream_due_loans",
    "suspend_members",
    "take_display_message",
]
