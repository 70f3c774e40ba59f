"""Alarm rows: an incident opened once per hut and kind, marked active and cleared, read by
the watch, and claimed for the staff channel by one server process at a time.

Once per incident is the partial unique index ``uq_alarms_open_hut_kind`` (one unresolved
alarm per hut and kind): a raise is ``INSERT ... ON CONFLICT DO NOTHING`` on it, so two
processes (two ingest workers, two watches) raising the same incident make one row; the
loser, after the winner's commit, finds the row and changes nothing, or marks it active
again if it had cleared (a repeat within the incident). Every change sets ``updated_at``
to when the server heard of it, which the huts' stream polls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.domain.alarms import AlarmKind, HutCondition
from server.domain.changes import AlarmCleared, AlarmRaised
from server.storage.operations_models import Alarm, HutState
from server.storage.reminder_models import DeliveryStatus, ReminderDelivery, ReminderMessage

DETAIL_KEPT = 500  # characters of an alarm's detail stored

# The kinds the watch judges from hut_states.
WATCHED = (AlarmKind.HUT_OFFLINE, AlarmKind.OUTBOX_BACKLOG)


class Raised(StrEnum):
    NEW = "new"  # a new incident
    AGAIN = "again"  # the open incident had cleared and started again: a repeat
    ALREADY = "already"  # the open incident is active already: nothing changed


def open_incident(hut_id: str, kind: AlarmKind) -> ColumnElement[bool]:
    return and_(Alarm.hut_id == hut_id, Alarm.kind == kind.value, Alarm.resolved_at.is_(None))


def raise_alarm(db: Session, change: AlarmRaised) -> Raised:
    """Open the incident, or mark the open one active again (counted as a repeat)."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(Alarm)
        .values(
            hut_id=change.hut_id,
            kind=change.kind.value,
            source=change.source.value,
            raised_at=change.at,
            active=True,
            repeats=0,
            detail=change.detail[:DETAIL_KEPT],
            event_id=change.event_id,
            reminders_sent=0,
            notify_due_at=change.at if change.notify else None,
            updated_at=change.heard_at,
        )
        .on_conflict_do_nothing(
            index_elements=[Alarm.hut_id, Alarm.kind], index_where=Alarm.resolved_at.is_(None)
        )
        .returning(Alarm.id)
    )
    if db.execute(statement).first() is not None:
        return Raised.NEW
    again = db.execute(
        update(Alarm)
        .where(open_incident(change.hut_id, change.kind), Alarm.active.is_(False))
        .values(active=True, cleared_at=None, repeats=Alarm.repeats + 1, updated_at=change.heard_at)
        .execution_options(synchronize_session=False)
    )
    return Raised.AGAIN if _count(again) else Raised.ALREADY


def clear_alarm(db: Session, change: AlarmCleared) -> bool:
    """The open incident no longer active; False if there was no active one."""
    cleared = db.execute(
        update(Alarm)
        .where(open_incident(change.hut_id, change.kind), Alarm.active.is_(True))
        .values(active=False, cleared_at=change.at, updated_at=change.heard_at)
        .execution_options(synchronize_session=False)
    )
    return bool(_count(cleared))


def _count(result: Any) -> int:
    return int(result.rowcount)


def hut_conditions(db: Session) -> list[HutCondition]:
    """Every hut that ever reported its state, with its watched alarms (two queries,
    whatever the number of huts)."""
    alarms = db.execute(
        select(Alarm.hut_id, Alarm.kind, Alarm.active, Alarm.resolved_at, Alarm.raised_at)
        .join(HutState, HutState.hut_id == Alarm.hut_id)
        .where(
            Alarm.kind.in_([kind.value for kind in WATCHED]),
            or_(Alarm.resolved_at.is_(None), Alarm.raised_at >= HutState.since),
        )
    ).all()
    states = db.execute(
        select(HutState.hut_id, HutState.online, HutState.since, HutState.outbox).order_by(
            HutState.hut_id
        )
    ).all()
    since = {hut_id: at for hut_id, _online, at, _outbox in states}
    active: dict[str, set[AlarmKind]] = {}
    raised: dict[str, set[AlarmKind]] = {}
    for hut_id, kind, is_active, resolved_at, raised_at in alarms:
        if resolved_at is None and is_active:
            active.setdefault(hut_id, set()).add(AlarmKind(kind))
        if raised_at >= since[hut_id]:
            raised.setdefault(hut_id, set()).add(AlarmKind(kind))
    return [
        HutCondition(
            hut_id,
            online,
            at,
            outbox,
            active=frozenset(active.get(hut_id, ())),
            raised_since=frozenset(raised.get(hut_id, ())),
        )
        for hut_id, online, at, outbox in states
    ]


@dataclass(frozen=True, slots=True)
class DueNotice:
    """An alarm whose next message to staff is due: the first (``notified_at`` None) or a
    reminder (``reminders_sent`` so far)."""

    alarm_id: int
    hut_id: str
    kind: AlarmKind
    raised_at: datetime
    active: bool
    cleared_at: datetime | None
    repeats: int
    notified_at: datetime | None
    reminders_sent: int

    @property
    def first(self) -> bool:
        return self.notified_at is None


def due_notices(db: Session, *, now: datetime, limit: int = 100) -> list[DueNotice]:
    """Unresolved alarms whose message is due, oldest due first (the index on
    ``notify_due_at`` finds them; nothing is due on nearly every call)."""
    rows = db.execute(
        select(
            Alarm.id,
            Alarm.hut_id,
            Alarm.kind,
            Alarm.raised_at,
            Alarm.active,
            Alarm.cleared_at,
            Alarm.repeats,
            Alarm.notified_at,
            Alarm.reminders_sent,
        )
        .where(Alarm.notify_due_at <= now, Alarm.resolved_at.is_(None))
        .order_by(Alarm.notify_due_at, Alarm.id)
        .limit(limit)
    ).all()
    return [
        DueNotice(row[0], row[1], AlarmKind(row[2]), row[3], row[4], row[5], *row[6:])
        for row in rows
    ]


def claim_notice(
    db: Session, notice: DueNotice, *, now: datetime, next_due: datetime | None
) -> bool:
    """Take the message ``notice`` stands for, as this process's to send: True once, for
    one caller, however many ask (the UPDATE matches only the row as ``notice`` read it;
    another's claim, an acknowledgement or a resolution changes it). A reminder is not
    sent for an acknowledged alarm."""
    seen = [
        Alarm.id == notice.alarm_id,
        Alarm.notify_due_at <= now,
        Alarm.resolved_at.is_(None),
        Alarm.reminders_sent == notice.reminders_sent,
    ]
    if notice.first:
        seen.append(Alarm.notified_at.is_(None))
        values: dict[str, Any] = {"notified_at": now}
    else:
        seen += [Alarm.notified_at.is_not(None), Alarm.acknowledged_at.is_(None)]
        values = {"reminders_sent": Alarm.reminders_sent + 1}
    claimed = db.execute(
        update(Alarm)
        .where(*seen)
        .values(**values, notify_due_at=next_due, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(_count(claimed))


def pending_messages(db: Session, *, now: datetime, stages: Iterable[str]) -> list[int]:
    """Messages of ``stages`` with a delivery due and not leased: an alarm's message whose
    send failed (retried) or whose process died before it sent."""
    query = (
        select(ReminderDelivery.message_id)
        .join(ReminderMessage, ReminderMessage.id == ReminderDelivery.message_id)
        .where(
            ReminderMessage.stage.in_(list(stages)),
            ReminderDelivery.status == DeliveryStatus.PENDING,
            ReminderDelivery.next_attempt_at <= now,
            or_(ReminderDelivery.claimed_until.is_(None), ReminderDelivery.claimed_until < now),
        )
        .distinct()
    )
    return sorted(db.scalars(query))


__all__ = [
    "WATCHED",
    "DueNotice",
    "Raised",
    "claim_notice",
    "clear_alarm",
    "due_notices",
    "hut_conditions",
    "open_incident",
    "pending_messages",
    "raise_alarm",
]
