"""Tables of the ledger. Times are UTC (see UtcDateTime); the hut's zone is for display."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from server.domain import ItemStatus, MemberStatus
from server.storage.coltypes import UtcDateTime

DEFAULT_TIMEZONE = "Asia/Shanghai"

# Named constraints so later migrations can alter them (SQLite batch mode needs names).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _values(enum: Any) -> list[str]:
    return [member.value for member in enum]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Hut(Base):
    __tablename__ = "huts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    # Last Allowlist.version published; it only grows, even across restarts.
    allowlist_version: Mapped[int] = mapped_column(BigInteger, default=0)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), index=True)
    status: Mapped[ItemStatus] = mapped_column(
        Enum(
            ItemStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=_values,
        ),
        default=ItemStatus.AVAILABLE,
    )

    hut: Mapped[Hut] = relationship()


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    building_unit: Mapped[str] = mapped_column(String(32))
    status: Mapped[MemberStatus] = mapped_column(
        Enum(
            MemberStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=_values,
        ),
        default=MemberStatus.ACTIVE,
    )

    cards: Mapped[list[Card]] = relationship(back_populates="member")


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)  # uppercase hex
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)

    member: Mapped[Member] = relationship(back_populates="cards")


class Loan(Base):
    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    borrowed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    returned_hut_id: Mapped[str | None] = mapped_column(ForeignKey("huts.id"), default=None)

    item: Mapped[Item] = relationship()
    member: Mapped[Member] = relationship()

    __table_args__ = (Index("ix_loans_item_id_returned_at", "item_id", "returned_at"),)


class EventRecord(Base):
    """One row per event id ever applied: the unique key is what makes replays harmless."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    outcome: Mapped[str] = mapped_column(String(16))  # applied | rejected
    reason: Mapped[str | None] = mapped_column(String(32), default=None)

    __table_args__ = (Index("ix_events_hut_id_seq", "hut_id", "seq"),)


class RejectedMessage(Base):
    """Dead letters: what arrived, on which topic, and why it was not applied."""

    __tablename__ = "rejected_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
