"""Moving the server's clock forward, audited: what ``POST /api/v1/clock`` and the demo's
``time +4d`` both do. No HTTP here, so the demo's prompt calls the same function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.clock import (
    MAX_OFFSET,
    TEXT_TOO_FAR_IN_ALL,
    ClockMoveError,
    OffsetClock,
    checked_advance,
)
from server.storage.audit import Stamp

AUDIT_ACTION = "clock.advance"
AUDIT_ENTITY = "clock"
AUDIT_ENTITY_ID = "server"  # the process's one clock


@dataclass(frozen=True, slots=True)
class ClockReading:
    now: datetime
    offset: timedelta


def reading(clock: OffsetClock) -> ClockReading:
    # The offset first: a move between the two then shows a time at least that far ahead.
    offset = clock.offset
    return ClockReading(now=clock(), offset=offset)


def advance(db: Session, clock: OffsetClock, delta: timedelta, *, stamp: Stamp) -> ClockReading:
    """Move ``clock`` forward by ``delta``, the audit entry flushed first (so a database that
    cannot take it stops the move); ClockMoveError, with nothing moved or recorded, for a
    move the clock refuses. The caller commits."""
    checked_advance(delta)
    before = clock.offset
    if before + delta > MAX_OFFSET:
        raise ClockMoveError(TEXT_TOO_FAR_IN_ALL)
    stamp.record(
        db,
        action=AUDIT_ACTION,
        entity=AUDIT_ENTITY,
        entity_id=AUDIT_ENTITY_ID,
        before={"offset_s": before.total_seconds()},
        after={"offset_s": (before + delta).total_seconds(), "advance_s": delta.total_seconds()},
    )
    db.flush()
    now = clock.advance(delta)  # may still refuse, if another move came in between
    return ClockReading(now=now, offset=clock.offset)
