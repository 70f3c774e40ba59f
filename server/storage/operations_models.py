"""Tables of the live operation of the huts: what each hut last said about itself, the
alarms raised from it for staff, and the commands staff sent to a hut and what became of
them. (The flagged ledger events are ``anomalies``, server/storage/models.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.coltypes import UtcDateTime
from server.storage.models import Base
from server.storage.reviewed import Reviewed


class HutState(Base):
    """A hut as its gateway last reported it (the retained status topic), one row per hut
    that ever reported. ``online``/``since``: the server's view, which also turns a hut
    offline whose gateway went quiet without its last will (a hung process)."""

    __tablename__ = "hut_states"

    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), primary_key=True)
    online: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(UtcDateTime)  # when ``online`` last changed
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the last status, our clock
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)  # its clock
    firmware: Mapped[str | None] = mapped_column(String(32), default=None)
    door: Mapped[str | None] = mapped_column(String(8), default=None)
    lock: Mapped[str | None] = mapped_column(String(8), default=None)
    controller: Mapped[str | None] = mapped_column(String(8), default=None)
    allowlist_version: Mapped[int | None] = mapped_column(BigInteger, default=None)
    outbox: Mapped[int | None] = mapped_column(Integer, default=None)
    alarms: Mapped[list[str]] = mapped_column(JSON, default=list)
    counters: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    uptime_s: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # When any field above last changed (not every periodic status changes one).
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Alarm(Reviewed, Base):
    """One incident: raised when its condition starts, ``active`` while it lasts,
    ``cleared_at`` when it ended by itself, resolved by staff with a note. While one is
    unresolved, the same condition at the same hut raises no second one (the partial unique
    index): it counts ``repeats`` instead, so staff hear once per incident."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # controller | gateway | server
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[str | None] = mapped_column(String(64), default=None)  # what raised it
    # The staff channel: when it was first told, how many reminders followed, and when the
    # next message is due (None: nothing to send). Claimed by UPDATE, so many server
    # processes send each message once.
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    notify_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

    __table_args__ = (
        Index(
            "uq_alarms_open_hut_kind",
            "hut_id",
            "kind",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_alarms_hut_id_raised_at", "hut_id", "raised_at"),
    )


class RemoteCommand(Base):
    """A command staff sent to a hut (unlock, enrol, status), and what the gateway said it
    did with it (its CommandEvent): ``outcome`` None until then. ``not_sent``: no broker
    took it."""

    __tablename__ = "remote_commands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Command's id
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    action: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # An unlock for a resident whose card does not work: that door session is theirs.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    detail: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (Index("ix_remote_commands_hut_id_issued_at", "hut_id", "issued_at"),)
