"""The kept monthly reports: written once each, listed without their bytes, read one file
at a time; and the claim of a month's send (an INSERT ... ON CONFLICT on the send's primary
key, so of several server processes exactly one wins). The claim comes before the build,
so only the winner builds; a claim not done within ``CLAIM_LEASE`` (its process died
building) may be taken over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.storage.report_models import MonthlyReport, MonthlyReportSend

# Longer than any build of one report: a claim this old and not done was its process's last.
CLAIM_LEASE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class KeptReport:
    id: int
    month: str
    hut_id: str | None
    language: str
    created_at: datetime
    created_by: str
    pdf_bytes: int
    csv_bytes: int


def keep(
    db: Session,
    *,
    month: str,
    hut_id: str | None,
    language: str,
    pdf: bytes,
    csv: bytes,
    now: datetime,
    actor: str,
) -> int:
    row = MonthlyReport(
        month=month,
        hut_id=hut_id,
        language=language,
        created_at=now,
        created_by=actor[:128],
        pdf=pdf,
        csv=csv,
    )
    db.add(row)
    db.flush()
    return row.id


def kept(db: Session, *, limit: int = 200, offset: int = 0) -> tuple[list[KeptReport], int]:
    """The kept reports, newest month first (then newest built), and how many there are."""
    r = MonthlyReport
    rows = db.execute(
        select(
            r.id,
            r.month,
            r.hut_id,
            r.language,
            r.created_at,
            r.created_by,
            func.length(r.pdf),
            func.length(r.csv),
        )
        .order_by(r.month.desc(), r.created_at.desc(), r.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = int(db.scalar(select(func.count()).select_from(r)) or 0)
    return [KeptReport(*row) for row in rows], total


def kept_file(db: Session, report_id: int, kind: str) -> tuple[KeptReport, bytes] | None:
    """A kept report's ``kind`` file ("pdf" or "csv"), or None if there is no such report."""
    row = db.get(MonthlyReport, report_id)
    if row is None or kind not in ("pdf", "csv"):
        return None
    info = KeptReport(
        row.id,
        row.month,
        row.hut_id,
        row.language,
        row.created_at,
        row.created_by,
        len(row.pdf),
        len(row.csv),
    )
    return info, row.pdf if kind == "pdf" else row.csv


def claim_send(
    db: Session,
    *,
    month: str,
    scope: str,
    now: datetime,
    worker: str,
    lease: timedelta = CLAIM_LEASE,
) -> bool:
    """True if this call claimed the month's send of ``scope`` (a hut id, or "*"): nobody
    had, or a claim older than ``lease`` was never done (its process died building the
    report) and is taken over. Taken before the build, in a transaction of its own."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    claim = {"claimed_at": now, "claimed_by": worker[:128]}
    statement = (
        insert(MonthlyReportSend)
        .values(month=month, scope=scope, **claim)
        .on_conflict_do_update(
            index_elements=["month", "scope"],
            set_=claim,
            # Only a claim never done and past its lease: the row's values, not ours.
            where=MonthlyReportSend.done_at.is_(None)
            & (MonthlyReportSend.claimed_at < now - lease),
        )
        .returning(MonthlyReportSend.month)
    )
    return db.execute(statement).first() is not None


def release_send(db: Session, *, month: str, scope: str, worker: str) -> None:
    """Give up ``worker``'s claim of a send not done (its build failed): the next look,
    of any process, claims it again."""
    db.execute(
        delete(MonthlyReportSend).where(
            MonthlyReportSend.month == month,
            MonthlyReportSend.scope == scope,
            MonthlyReportSend.claimed_by == worker[:128],
            MonthlyReportSend.done_at.is_(None),
        )
    )


def mark_sent(
    db: Session, *, month: str, scope: str, message_id: int | None, now: datetime
) -> None:
    """The claimed send is kept and told (``message_id``: the staff message, if one was
    written)."""
    db.execute(
        update(MonthlyReportSend)
        .where(MonthlyReportSend.month == month, MonthlyReportSend.scope == scope)
        .values(message_id=message_id, done_at=now)
    )


def claimed(db: Session, month: str, *, now: datetime, lease: timedelta = CLAIM_LEASE) -> set[str]:
    """The scopes whose send of ``month`` is done, or claimed less than ``lease`` ago."""
    rows = select(MonthlyReportSend.scope).where(
        MonthlyReportSend.month == month,
        MonthlyReportSend.done_at.is_not(None) | (MonthlyReportSend.claimed_at >= now - lease),
    )
    return set(db.scalars(rows))
