"""Door-session scans written in bulk: during ingest a scan is a row, not an ORM object.

Ingest writes two scans a visit and reads them back only for a condition card or a
stocktake count. As ORM objects (built, tracked, flushed one by one) they were about a third
of a batch's Python work. Here they wait in their session's buffer and go in with one
executemany before the transaction commits, once their door sessions and loans have ids.

Every session writes its buffer before it commits (listeners on ``Session`` itself, so
any session does). Who reads scans inside the transaction calls ``write_pending`` first. A
savepoint's caller writes the buffer before the savepoint and again before releasing it,
and drops it (``discard_pending``) if the savepoint rolls back; a rolled-back transaction
drops it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session, SessionTransaction

from server.storage.models import DoorSession, Loan, SessionScan

_KEY = "toolhut.pending_scans"
_TABLE = cast(Table, SessionScan.__table__)


@dataclass(frozen=True, slots=True)
class PendingScan:
    door: DoorSession
    seq: int
    at: datetime
    text: str
    tag: str | None
    action: str
    reason: str | None
    loan: Loan | None

    def row(self) -> dict[str, Any]:
        return {
            "door_session_id": self.door.id,
            "seq": self.seq,
            "at": self.at,
            "text": self.text[:256],
            "tag": self.tag,
            "action": self.action,
            "reason": self.reason,
            "loan_id": None if self.loan is None else self.loan.id,
        }


def add(session: Session, scan: PendingScan) -> None:
    session.info.setdefault(_KEY, []).append(scan)


def write_pending(session: Session) -> None:
    """Insert the buffered scans now (flushing first if a session or loan has no id yet)."""
    pending: list[PendingScan] = session.info.pop(_KEY, [])
    if not pending:
        return
    if any(s.door.id is None or (s.loan is not None and s.loan.id is None) for s in pending):
        session.flush()
    session.connection().execute(insert(_TABLE), [scan.row() for scan in pending])


def discard_pending(session: Session) -> None:
    session.info.pop(_KEY, None)


def _before_commit(session: Session) -> None:
    write_pending(session)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: after a commit the buffer is empty
        discard_pending(session)


# On every Session, however it was made: a buffered scan must never be left behind by a
# session that commits without knowing about the buffer.
event.listen(Session, "before_commit", _before_commit)
event.listen(Session, "after_transaction_end", _after_transaction_end)


__all__ = ["PendingScan", "add", "discard_pending", "write_pending"]
