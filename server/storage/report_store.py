"""The kept monthly reports: written once each, listed without their bytes, read one file
at a time; and the claim of a month's send (INSERT ... ON CONFLICT DO NOTHING on the
send's primary key, so of several server processes exactly one wins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.storage.report_models import MonthlyReport, MonthlyReportSend


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


def claim_send(db: Session, *, month: str, scope: str, now: datetime, worker: str) -> bool:
    """True if this call claimed the month's send of ``scope`` (a hut id, or "*")."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(MonthlyReportSend)
        .values(month=month, scope=scope, claimed_at=now, claimed_by=worker[:128])
        .on_conflict_do_nothing(index_elements=["month", "scope"])
        .returning(MonthlyReportSend.month)
    )
    return db.execute(statement).first() is not None


def mark_sent(db: Session, *, month: str, scope: str, message_id: int) -> None:
    db.execute(
        update(MonthlyReportSend)
        .where(MonthlyReportSend.month == month, MonthlyReportSend.scope == scope)
        .values(message_id=message_id)
    )


def claimed(db: Session, month: str) -> set[str]:
    """The scopes whose send of ``month`` is claimed already."""
    return set(db.scalars(select(MonthlyReportSend.scope).where(MonthlyReportSend.month == month)))
