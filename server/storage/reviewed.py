"""What staff do with something the system flagged (an alarm, an anomaly, a sequence gap,
a dead letter): acknowledge it ("I have seen it, I am on it") and resolve it, each with who
and when and a note. One set of columns for every such table, so one review step
(and one audit entry) serves them all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.storage.coltypes import UtcDateTime


class Reviewed:
    """Mixin of the review columns. Open: ``resolved_at`` is None."""

    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id"), default=None
    )
    acknowledge_note: Mapped[str | None] = mapped_column(Text, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    resolve_note: Mapped[str | None] = mapped_column(Text, default=None)


__all__ = ["Reviewed"]
