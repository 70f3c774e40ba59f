"""Tables of the ledger. Times are UTC (see UtcDateTime); the hut's zone is for display."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from server.domain import CardStatus, ItemCondition, ItemStatus, MemberStatus
from server.storage.coltypes import UtcDateTime
from server.storage.reviewed import Reviewed

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


def checked_enum(enum: Any, *, name: str) -> Enum:
    """A StrEnum stored as its values in a short text column with a CHECK constraint (no
    native enum type, so adding a value needs no ALTER TYPE on PostgreSQL)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=_values,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Hut(Base):
    __tablename__ = "huts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    contact_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    # {"mon": [["08:00", "20:00"]], ...} in the hut's own time zone; None: always open.
    # The door refuses taps outside them, offline too (the hours travel in the allowlist).
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # Bumped by every staff edit: two staff editing one record cannot overwrite each other.
    # The migration gives existing rows 1 (a server default); the model leaves it out, as
    # it does for language: with one, SQLAlchemy 2.1 fetches it back after every INSERT,
    # which turns a bulk insert's one prepared statement into pages of multi-row VALUES.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Last Allowlist.version published; it only grows, even across restarts.
    allowlist_version: Mapped[int] = mapped_column(BigInteger, default=0)
    # Digest of the cards and states in the list last published (never the salted list):
    # a periodic check republishes only when it differs, whichever process looks.
    allowlist_digest: Mapped[str | None] = mapped_column(String(64), default=None)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(ForeignKey("categories.key"), index=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), index=True)
    # A partner organisation that stocks the hut, or a donor; None: the community's own.
    owner: Mapped[str | None] = mapped_column(Text, default=None)
    # The partner organisation that donated it (storage/wish_models.Partner), if one did.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), default=None)
    condition: Mapped[ItemCondition] = mapped_column(
        checked_enum(ItemCondition, name="condition"),
        default=ItemCondition.OK,
        server_default=ItemCondition.OK.value,
    )
    # Per-item overrides of the category's policy (None: the category's).
    loan_days: Mapped[int | None] = mapped_column(Integer, default=None)
    max_renewals: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[ItemStatus] = mapped_column(
        checked_enum(ItemStatus, name="status"),
        default=ItemStatus.AVAILABLE,
    )
    # Why staff last set the status by hand (maintenance, retired, lost, found).
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    hut: Mapped[Hut] = relationship()


class ItemStatusChange(Base):
    """A status staff set by hand, with their reason: the item page's history."""

    __tablename__ = "item_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    building_unit: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    # The language the hut and the reminders speak to them: zh | en.
    language: Mapped[str] = mapped_column(String(8), default="zh")
    status: Mapped[MemberStatus] = mapped_column(
        checked_enum(MemberStatus, name="status"),
        default=MemberStatus.ACTIVE,
    )
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Personal data erased (the person goes, the loans stay): name, phone, flat, cards.
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    cards: Mapped[list[Card]] = relationship(back_populates="member")
    flag_rows: Mapped[list[MemberFlagRow]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    # Loaded when asked for (the lists that show it ask with selectinload): the ledger loads
    # a member for every tap and scan and never needs them.
    hut_rows: Mapped[list[MemberHut]] = relationship(cascade="all, delete-orphan", lazy="select")

    @property
    def flags(self) -> frozenset[str]:
        return frozenset(row.flag for row in self.flag_rows)

    @property
    def huts(self) -> frozenset[str]:
        """The huts the member may open; empty: every hut."""
        return frozenset(row.hut_id for row in self.hut_rows)


class MemberHut(Base):
    """A hut a member may open. A member with none may open every hut."""

    __tablename__ = "member_huts"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), primary_key=True)


class MemberFlagRow(Base):
    """senior, staff ... (see domain MemberFlag); free text so a new flag needs no migration."""

    __tablename__ = "member_flags"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    flag: Mapped[str] = mapped_column(String(32), primary_key=True)


class ItemCategory(Base):
    """The editable list of categories, each with its loan policy."""

    __tablename__ = "categories"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    loan_days: Mapped[int] = mapped_column(Integer)
    max_renewals: Mapped[int] = mapped_column(Integer)
    max_per_member: Mapped[int] = mapped_column(Integer)
    hold_hours: Mapped[int] = mapped_column(Integer)
    # Members flagged senior (60+) go ahead of the others in this category's waiting lists.
    senior_first: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=1)


class MemberFlagRule(Base):
    """Policy by member flag: extra loan days (e.g. senior +2)."""

    __tablename__ = "member_flag_rules"

    flag: Mapped[str] = mapped_column(String(32), primary_key=True)
    extra_loan_days: Mapped[int] = mapped_column(Integer)


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)  # uppercase hex
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    state: Mapped[CardStatus] = mapped_column(
        checked_enum(CardStatus, name="state"),
        default=CardStatus.ACTIVE,
        server_default=CardStatus.ACTIVE.value,
    )
    bound_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    member: Mapped[Member] = relationship(back_populates="cards")


class EnrolmentRequest(Base):
    """Staff put a hut into enrol mode for a member: the next card tapped there before
    ``expires_at`` is bound to that member. state: waiting -> bound, or expired / refused
    (the card is someone else's) / cancelled."""

    __tablename__ = "enrolment_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    command_id: Mapped[str] = mapped_column(String(64), unique=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    card_uid: Mapped[str | None] = mapped_column(String(20), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (Index("ix_enrolment_requests_hut_id_state", "hut_id", "state"),)


# A loan still out (neither returned nor lost), as SQL: its partial indexes' condition.
OPEN_LOAN_SQL = "returned_at IS NULL AND lost_at IS NULL"


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
    renewals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A lost loan is closed without a return: the item is written off as lost.
    lost_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    return_condition: Mapped[str | None] = mapped_column(String(16), default=None)

    item: Mapped[Item] = relationship()
    member: Mapped[Member] = relationship()

    __table_args__ = (
        Index("ix_loans_item_id_returned_at", "item_id", "returned_at"),
        # A hut's loans by when they began: the monthly report reads one hut's month.
        Index("ix_loans_hut_id_borrowed_at", "hut_id", "borrowed_at"),
        # A member's loans still out (the loader counts them by category at every tap),
        # not their whole history.
        Index(
            "ix_loans_member_id_open",
            "member_id",
            sqlite_where=text(OPEN_LOAN_SQL),
            postgresql_where=text(OPEN_LOAN_SQL),
        ),
        # An item is on at most one open loan: the database says so, not only the rules.
        Index(
            "uq_loans_open_item",
            "item_id",
            unique=True,
            sqlite_where=text(OPEN_LOAN_SQL),
            postgresql_where=text(OPEN_LOAN_SQL),
        ),
    )


# The states of a place still in the line (domain ACTIVE_RESERVATION), as SQL.
ACTIVE_RESERVATION_SQL = "state IN ('waiting', 'held')"


class Reservation(Base):
    """A place on an item's waiting list. state: waiting -> held -> fulfilled, or expired
    (hold ran out) / cancelled."""

    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    hold_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    item: Mapped[Item] = relationship()
    member: Mapped[Member] = relationship()
    # The member's flags, loaded with the rows (one statement for a batch's lines): where
    # the policy says so, a senior member goes ahead in the line.
    member_flag_rows: Mapped[list[MemberFlagRow]] = relationship(
        primaryjoin="Reservation.member_id == foreign(MemberFlagRow.member_id)",
        viewonly=True,
        lazy="selectin",
    )

    __table_args__ = (
        Index("ix_reservations_item_id_state", "item_id", "state"),
        # One place per member in an item's line, even for two requests at once (a
        # double tap on a phone): the second insert fails instead of queueing twice.
        Index(
            "uq_reservations_active_item_member",
            "item_id",
            "member_id",
            unique=True,
            sqlite_where=text(ACTIVE_RESERVATION_SQL),
            postgresql_where=text(ACTIVE_RESERVATION_SQL),
        ),
    )


class NotificationRequest(Base):
    """Something a member or staff should be told; the reminders side sends it and sets
    ``sent_at``. kind: reservation_ready ..."""

    __tablename__ = "notification_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    hut_id: Mapped[str | None] = mapped_column(ForeignKey("huts.id"), default=None)
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"), default=None)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)

    reservation: Mapped[Reservation | None] = relationship()


class DoorSession(Base):
    """Card tap -> door open -> scans -> door closed, keyed by the gateway's session id."""

    __tablename__ = "door_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    key: Mapped[str] = mapped_column(String(64))
    card_uid: Mapped[str | None] = mapped_column(String(20), default=None)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    mode: Mapped[str] = mapped_column(String(16))  # lending | stocktake
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    door_opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    scans: Mapped[int] = mapped_column(Integer, default=0)
    flag: Mapped[str | None] = mapped_column(String(16), default=None, index=True)
    # A condition card scanned before the item it is about.
    pending_condition: Mapped[str | None] = mapped_column(String(16), default=None)

    member: Mapped[Member | None] = relationship()

    __table_args__ = (UniqueConstraint("hut_id", "key", name="uq_door_sessions_hut_id_key"),)


class SessionScan(Base):
    __tablename__ = "session_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    door_session_id: Mapped[int] = mapped_column(ForeignKey("door_sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(32), default=None)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), default=None)


class Anomaly(Reviewed, Base):
    """For staff to look at: an item back that was not on loan, a door opened with nothing
    scanned, a part missing at return. Reviewed: acknowledged and resolved by staff."""

    __tablename__ = "anomalies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    door_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("door_sessions.id"), default=None
    )
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    door_session: Mapped[DoorSession | None] = relationship()


class Stocktake(Base):
    __tablename__ = "stocktakes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    door_session_id: Mapped[int] = mapped_column(ForeignKey("door_sessions.id"), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    lines: Mapped[list[StocktakeLineRow]] = relationship(
        order_by="StocktakeLineRow.id", lazy="selectin"
    )


class StocktakeLineRow(Base):
    """The report, written when the door closes: seen / missing / unexpected per tag."""

    __tablename__ = "stocktake_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), index=True)
    tag: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    result: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)


class Consumable(Base):
    """A supply kept at one hut (tag printed on its shelf label), counted, not lent."""

    __tablename__ = "consumables"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(ForeignKey("categories.key"))
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), index=True)
    min_quantity: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    batches: Mapped[list[ConsumableBatch]] = relationship(
        order_by="ConsumableBatch.id", lazy="selectin"
    )

    @property
    def quantity(self) -> int:
        return sum(batch.quantity for batch in self.batches)


class ConsumableBatch(Base):
    __tablename__ = "consumable_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumable_id: Mapped[int] = mapped_column(ForeignKey("consumables.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)
    received_on: Mapped[date | None] = mapped_column(Date, default=None)  # the delivery


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


class RejectedMessage(Reviewed, Base):
    """Dead letters: what arrived, on which topic, and why it was not applied.

    ``payload`` is the message's first bytes only (a stranger decides its size); the
    digest and the size say what the whole was."""

    __tablename__ = "rejected_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    payload_size: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
