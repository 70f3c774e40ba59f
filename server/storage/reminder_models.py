"""Tables of the reminders: who was told what, once, and what is still to be sent.

A grouped message (one member, one audience, several loans, each at its own stage) is one
``reminder_messages`` row, named by its most pressing stage; the exactly-once key is per
subject and stage in ``reminder_claims`` (subject "loan:<id>", or a stock alert's key), so
grouping never lets a loan's stage go out twice: the loan is in whichever message won its
claim. Each channel of a message is one ``reminder_deliveries``
row that a worker leases, sends outside any transaction and then marks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.storage.coltypes import UtcDateTime
from server.storage.models import Base, Loan, Member


class DeliveryStatus:
    PENDING = "pending"  # waiting, leased, or failed and waiting for its next attempt
    SENT = "sent"
    DEAD = "dead"  # gave up after the last attempt
    CANCELLED = "cancelled"  # everything in it was returned before it went out


class ReminderMessage(Base):
    __tablename__ = "reminder_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(64))
    template: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(8))  # member | staff
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    hut_id: Mapped[str | None] = mapped_column(ForeignKey("huts.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Stock alerts and ledger notices have no loan to read at send time: their lines travel
    # here, written and read only by server/reminders/payloads.py.
    payload: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=None
    )

    member: Mapped[Member | None] = relationship()
    claims: Mapped[list[ReminderClaim]] = relationship(back_populates="message")
    deliveries: Mapped[list[ReminderDelivery]] = relationship(back_populates="message")

    __table_args__ = (Index("ix_reminder_messages_member_id", "member_id"),)


class ReminderClaim(Base):
    """The primary key is the exactly-once guarantee: one row per (subject, stage), ever."""

    __tablename__ = "reminder_claims"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("reminder_messages.id"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), default=None)
    # How this line is worded when the message lists loans at several stages; None: the
    # message's template (stock alerts, notices, claims from before revision 0006).
    template: Mapped[str | None] = mapped_column(String(32), default=None)

    message: Mapped[ReminderMessage] = relationship(back_populates="claims")
    loan: Mapped[Loan | None] = relationship()


class ReminderDelivery(Base):
    __tablename__ = "reminder_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("reminder_messages.id"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text, default=None)
    locale: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # A lease, not a lock: a worker that dies mid-send leaves it to expire.
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    message: Mapped[ReminderMessage] = relationship(back_populates="deliveries")

    __table_args__ = (
        Index("uq_reminder_deliveries_message_id_channel", "message_id", "channel", unique=True),
        Index("ix_reminder_deliveries_status_next", "status", "next_attempt_at"),
    )


class ReminderAttempt(Base):
    """Every send and every failure, for staff and for the log's sake."""

    __tablename__ = "reminder_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("reminder_deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    worker: Mapped[str] = mapped_column(String(128))


class MemberContact(Base):
    """Where a member hears reminders on a channel that needs an address (e-mail, SMS)."""

    __tablename__ = "member_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), default="zh")

    __table_args__ = (
        Index("uq_member_contacts_member_id_channel", "member_id", "channel", unique=True),
    )


class DisplayMessage(Base):
    """A line for the hut display, shown when the member's card next opens a session."""

    __tablename__ = "display_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    shown_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (Index("ix_display_messages_member_id_shown_at", "member_id", "shown_at"),)


# The sweep's due window: only open loans are indexed, so a million returned loans cost
# nothing. Declared here so the ledger's models stay the ledger engineer's.
OPEN_LOANS_BY_DUE = Index(
    "ix_loans_open_due_at",
    Loan.due_at,
    sqlite_where=Loan.returned_at.is_(None),
    postgresql_where=Loan.returned_at.is_(None),
)
