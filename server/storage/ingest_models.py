"""Tables of ordered ingest: each hut's applied watermark, the gaps staff should know
about, and cards read in staff enrol mode.

Events held back behind a gap are ordinary ``events`` rows with outcome ``queued``: their
id is claimed like any other (so a resend is recognised), only their effect waits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.coltypes import UtcDateTime
from server.storage.models import Base
from server.storage.reviewed import Reviewed


class HutSequence(Base):
    """Per hut: every seq up to ``applied_seq`` is applied (or reported missing).

    The row is also the per-hut lock: a batch takes it FOR UPDATE, so two server processes
    never apply one hut's events side by side or out of order."""

    __tablename__ = "hut_sequences"

    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), primary_key=True)
    applied_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)  # events rows queued behind a gap
    # When the oldest held event arrived (None: nothing held): the gap timeout runs from it.
    held_since: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)


class GapKind:
    MISSING = "missing"  # seqs first..last never came within the gap timeout
    RESET = "reset"  # the gateway numbered again from ``first`` (its outbox was wiped)


class SequenceGap(Reviewed, Base):
    """For staff: seqs of a hut that were skipped, or where the gateway started over."""

    __tablename__ = "sequence_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Seqs of this gap that turned up after all (applied late, out of order).
    late: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_sequence_gaps_hut_id_first_seq", "hut_id", "first_seq"),)


class EnrolmentCandidate(Base):
    """A card tapped in staff enrol mode, waiting for staff to give it to a member."""

    __tablename__ = "enrolment_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"), index=True)
    card_uid: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The member who holds the card already, if it is known (staff may be re-issuing it).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
