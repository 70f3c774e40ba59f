"""Each hut's last reported state (``hut_states``): written from its gateway's verified
statuses, turned offline when they stop coming, and read back as ``HutView`` for the API
and the live stream.

What counts as a change (``changed_at``, and a push to the live stream): online, door,
lock, controller, firmware, allowlist version, outbox depth and the active alarms. The
counters and the uptime move with every status: they are kept, they change nothing.
``since`` moves only when ``online`` flips. While a hut is offline its fields stay as it
last reported them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Label, Select, select, update
from sqlalchemy.orm import Session

from server.storage.models import EventRecord, Hut
from server.storage.operations_models import HutState
from toolhut.contract import GatewayState, Status

# The columns a status reports, beside online; a difference in one is a change.
TRACKED = ("firmware", "door", "lock", "controller", "allowlist_version", "outbox", "alarms")


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A status verified with its hut's key, and when this server took it."""

    status: Status
    received_at: datetime

    @property
    def hut(self) -> str:
        return self.status.hut


@dataclass(frozen=True, slots=True)
class HutView:
    """A hut's state as staff see it. ``reported`` False: its gateway never reported
    (online False, every field None)."""

    hut_id: str
    reported: bool
    online: bool
    since: datetime | None
    door: str | None
    lock: str | None
    controller: str | None
    firmware: str | None
    outbox: int | None
    allowlist_version: int | None
    alarms: tuple[str, ...]
    last_status_at: datetime | None  # our clock, when its last status came
    changed_at: datetime | None
    last_event_at: datetime | None = None  # received_at of its newest event (by seq)

    @classmethod
    def of(cls, hut_id: str, row: HutState | None, *, last_event_at: datetime | None) -> HutView:
        if row is None:
            return cls(
                hut_id, False, False, None, None, None, None, None, None, None, (), None, None,
                last_event_at,
            )  # fmt: skip
        return cls(
            hut_id=hut_id,
            reported=True,
            online=row.online,
            since=row.since,
            door=row.door,
            lock=row.lock,
            controller=row.controller,
            firmware=row.firmware,
            outbox=row.outbox,
            allowlist_version=row.allowlist_version,
            alarms=tuple(row.alarms or ()),
            last_status_at=row.received_at,
            changed_at=row.changed_at,
            last_event_at=last_event_at,
        )

    def same_state(self, other: HutView | None) -> bool:
        """Whether ``other`` says the same of the hut, apart from when it was last heard
        and when it last changed (what a live client needs to be told again)."""
        return other is not None and all(
            getattr(self, name) == getattr(other, name) for name in _STATE_FIELDS
        )


_WHEN = ("last_status_at", "changed_at", "last_event_at")
_STATE_FIELDS = tuple(f.name for f in fields(HutView) if f.name not in _WHEN)


@dataclass(frozen=True, slots=True)
class Recorded:
    rows: list[HutState]  # every reported hut's row as it now stands, written or not
    written: int  # how many of them this call changed (the rest said nothing new)


def record_statuses(db: Session, reports: Iterable[StatusReport]) -> Recorded:
    """Write the reports of huts that exist (the caller checked) in the caller's
    transaction: one read of their rows, locked in hut order (two server processes take
    the same statuses and must not both decide a change, nor deadlock), then the updates.
    Only each hut's last report counts. A status already recorded (by another process, or
    the retained one handed over again at a reconnect) writes nothing."""
    latest = {report.hut: report for report in reports}
    if not latest:
        return Recorded([], 0)
    ids = sorted(latest)
    rows = {
        row.hut_id: row
        for row in db.scalars(
            select(HutState)
            .where(HutState.hut_id.in_(ids))
            .order_by(HutState.hut_id)
            .with_for_update()
        )
    }
    written = 0
    for hut in ids:
        row = rows.get(hut)
        if row is None:
            row = rows[hut] = _first_row(latest[hut])
            db.add(row)
            written += 1
        elif _apply(row, latest[hut]):
            written += 1
    return Recorded([rows[hut] for hut in ids], written)


def _reported(status: Status) -> dict[str, Any]:
    return {
        "firmware": status.firmware,
        "door": None if status.door is None else status.door.value,
        "lock": status.lock,
        "controller": status.controller,
        "allowlist_version": status.allowlist,
        "outbox": status.outbox,
        "alarms": [alarm.value for alarm in status.alarms or ()],
    }


def _telemetry(status: Status) -> dict[str, Any]:
    counters = None if status.counters is None else status.counters.model_dump()
    return {"counters": counters, "uptime_s": status.uptime_s, "status_at": status.ts}


def _first_row(report: StatusReport) -> HutState:
    status, at = report.status, report.received_at
    online = status.state is GatewayState.ONLINE
    values = {**_reported(status), **_telemetry(status)} if online else {"alarms": []}
    return HutState(
        hut_id=status.hut, online=online, since=at, received_at=at, changed_at=at, **values
    )


def _apply(row: HutState, report: StatusReport) -> bool:
    """Bring ``row`` up to ``report``; False if it says nothing new."""
    status, at = report.status, report.received_at
    if status.ts is not None and row.status_at == status.ts:
        return False  # this very status again: no news that the gateway lives
    if status.state is GatewayState.OFFLINE:  # the last will, or a clean stop
        if not row.online:
            return False
        row.online = False
        row.since = row.changed_at = row.received_at = at
        return True
    reported = _reported(status)
    changed = not row.online or any(getattr(row, name) != reported[name] for name in TRACKED)
    for name, value in (reported | _telemetry(status)).items():
        setattr(row, name, value)
    if not row.online:
        row.online = True
        row.since = at
    row.received_at = at
    if changed:
        row.changed_at = at
    return True


def mark_stale(db: Session, *, cutoff: datetime, now: datetime) -> list[str]:
    """Turn offline every online hut whose last status came before ``cutoff``; the huts
    turned. One idempotent UPDATE: any number of server processes may run it at once, and
    a status written meanwhile keeps its hut online (the row is locked or skipped, and
    the condition is checked again in the UPDATE)."""
    quiet = (HutState.online.is_(True), HutState.received_at < cutoff)
    # Locked in hut order, as record_statuses locks them; a row being written right now
    # (a status is coming in) is skipped rather than waited for: it is not quiet.
    candidates = (
        select(HutState.hut_id)
        .where(*quiet)
        .order_by(HutState.hut_id)
        .with_for_update(skip_locked=True)
    )
    stale = (
        update(HutState)
        .where(HutState.hut_id.in_(candidates), *quiet)
        .values(online=False, since=now, changed_at=now)
        .returning(HutState.hut_id)
        .execution_options(synchronize_session=False)
    )
    return sorted(db.scalars(stale))


def _last_event_at() -> Label[datetime]:
    """The received_at of the hut's newest event by seq: a walk down ix_events_hut_id_seq
    per hut, correlated, so a list of huts takes one query."""
    newest = (
        select(EventRecord.received_at)
        .where(EventRecord.hut_id == Hut.id)
        .order_by(EventRecord.seq.desc())
        .limit(1)
        .correlate(Hut)
        .scalar_subquery()
    )
    return newest.label("last_event_at")


def _views(query: Select[Any]) -> Select[Any]:
    return query.add_columns(HutState, _last_event_at()).outerjoin(
        HutState, HutState.hut_id == Hut.id
    )


def hut_views(db: Session, hut_ids: Sequence[str] | None = None) -> dict[str, HutView]:
    """The views of the huts of ``hut_ids`` that exist (every hut: None), by id, in hut
    order; one query however many."""
    query = _views(select(Hut.id)).order_by(Hut.id)
    if hut_ids is not None:
        query = query.where(Hut.id.in_(sorted(set(hut_ids))))
    return {
        hut_id: HutView.of(hut_id, row, last_event_at=last)
        for hut_id, row, last in db.execute(query)
    }


def changed_views(db: Session, *, since: datetime | None) -> list[HutView]:
    """The views of the huts whose state changed at or after ``since`` (every hut that
    ever reported: None), oldest change first."""
    query = _views(select(Hut.id)).where(HutState.hut_id.is_not(None))
    if since is not None:
        query = query.where(HutState.changed_at >= since)
    return [
        HutView.of(hut_id, row, last_event_at=last)
        for hut_id, row, last in db.execute(query.order_by(HutState.changed_at, Hut.id))
    ]
