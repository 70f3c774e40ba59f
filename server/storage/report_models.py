"""Tables of the monthly reports: each built report kept for download (its PDF and CSV in
the database, so every server process serves them), and the claim of a month's send to
the staff channel (one row per month and scope, taken before the build: one process builds
and sends it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.coltypes import UtcDateTime
from server.storage.models import Base

DISTRICT_SCOPE = "*"  # a send's scope for the whole district (no hut id is "*")


class MonthlyReport(Base):
    __tablename__ = "monthly_reports"
    __table_args__ = (Index("ix_monthly_reports_month_hut_id", "month", "hut_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    # The hut it covers; None: the whole district.
    hut_id: Mapped[str | None] = mapped_column(ForeignKey("huts.id"), default=None)
    language: Mapped[str] = mapped_column(String(8))  # the PDF's: zh_CN | en
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_by: Mapped[str] = mapped_column(String(128))  # a staff actor, or the monthly send
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    csv: Mapped[bytes] = mapped_column(LargeBinary)


class MonthlyReportSend(Base):
    """The primary key is the once-only guarantee of a month's send."""

    __tablename__ = "monthly_report_sends"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # hut id or "*"
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_messages.id"), default=None)
    # When the send was kept and told; None: claimed, still being built (or its process
    # died building it: then another may take the claim over once its lease is out).
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
