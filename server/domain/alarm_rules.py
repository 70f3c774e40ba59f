"""When an alarm starts and ends, as pure rules: what the hut reported (the controller's door
alarms, the gateway's word on its controller) through the rule book, and what the hut's
last reported state means (offline too long, events piling up) for the watch.

The rules say only "started" or "ended"; that a second start within one unresolved
incident is a repeat, not a second incident, is the storage's unique index
(server/storage/alarms.py), so any number of server processes may decide the same.
"""

from __future__ import annotations

from datetime import datetime

from server.domain.alarms import (
    BACKLOG_DETAIL,
    TOLD_TO_STAFF,
    AlarmKind,
    AlarmSource,
    HutCondition,
    WatchLimits,
)
from server.domain.changes import AlarmCleared, AlarmRaised, Change, Effects
from server.domain.commands import AlarmReport, ControllerReport
from server.domain.ledger_state import Snapshot

# The gateway's controller states that start an alarm; any other (ok, hello) ends both.
_CONTROLLER_ALARMS = {
    "silent": AlarmKind.CONTROLLER_SILENT,
    "absent": AlarmKind.CONTROLLER_ABSENT,
}


def raised(
    hut_id: str,
    kind: AlarmKind,
    source: AlarmSource,
    *,
    at: datetime,
    heard_at: datetime,
    event_id: str | None = None,
    detail: str = "",
) -> AlarmRaised:
    return AlarmRaised(
        hut_id,
        kind,
        source,
        at,
        heard_at,
        detail=detail,
        event_id=event_id,
        notify=kind in TOLD_TO_STAFF,
    )


def alarm_report(snapshot: Snapshot, command: AlarmReport) -> Effects:
    """A door alarm raised or cleared at the hut, at the time it happened there."""
    hut = snapshot.hut.id
    if command.active:
        change: Change = raised(
            hut,
            command.kind,
            command.source,
            at=snapshot.now,
            heard_at=command.heard_at,
            event_id=command.event_id,
        )
    else:
        change = AlarmCleared(hut, command.kind, snapshot.now, command.heard_at)
    return Effects((change,))


def controller_report(snapshot: Snapshot, command: ControllerReport) -> Effects:
    """Silent or absent starts its alarm; the controller heard again (ok, hello) ends both."""
    hut, now, heard = snapshot.hut.id, snapshot.now, command.heard_at
    kind = _CONTROLLER_ALARMS.get(command.state)
    if kind is None:
        ended = _CONTROLLER_ALARMS.values()
        return Effects(tuple(AlarmCleared(hut, kind, now, heard) for kind in ended))
    source = AlarmSource.GATEWAY
    return Effects((raised(hut, kind, source, at=now, heard_at=heard, event_id=command.event_id),))


Watched = AlarmRaised | AlarmCleared


def watch_hut(hut: HutCondition, *, now: datetime, limits: WatchLimits) -> tuple[Watched, ...]:
    """What the hut's reported state starts or ends now. Offline: raised once the hut has
    been offline for ``limits.offline_after``, stamped with when it went offline, and not
    again for the same offline period; ended when it is back online. The outbox: raised at
    ``outbox_high`` waiting events of an online hut, ended at half of that (an offline
    hut's count is as old as its last status, and is left as it stands)."""
    changes: list[Watched] = []
    offline = AlarmKind.HUT_OFFLINE
    if hut.online:
        if offline in hut.active:
            changes.append(AlarmCleared(hut.hut_id, offline, hut.since, now))
    elif (
        now - hut.since >= limits.offline_after
        and offline not in hut.active
        and offline not in hut.raised_since
    ):
        changes.append(raised(hut.hut_id, offline, AlarmSource.SERVER, at=hut.since, heard_at=now))
    backlog = AlarmKind.OUTBOX_BACKLOG
    if hut.online and hut.outbox is not None:
        if hut.outbox >= limits.outbox_high and backlog not in hut.active:
            detail = BACKLOG_DETAIL.format(count=hut.outbox)
            changes.append(
                raised(hut.hut_id, backlog, AlarmSource.SERVER, at=now, heard_at=now, detail=detail)
            )
        elif hut.outbox <= limits.outbox_low and backlog in hut.active:
            changes.append(AlarmCleared(hut.hut_id, backlog, now, now))
    return tuple(changes)


__all__ = ["Watched", "alarm_report", "controller_report", "raised", "watch_hut"]
