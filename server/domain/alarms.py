"""What staff are alerted to: the kinds of alarm, which of them are told to the staff
channel at once, what the hut watch judges a hut by, and the names staff read for alarms
and anomalies (Chinese first, English beside), kept here once for the API and the
messages alike.

An alarm is one incident per hut and kind (server/storage/operations_models.py): raised
when its condition starts, active while it lasts, cleared when it ends by itself, resolved
by staff. The controller's own alarms and the gateway's controller reports come through
the ledger (alarm_rules.alarm_report / controller_report); the hut's state is judged by the
watch (alarm_rules.watch_hut)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from server.domain.ledger_state import AnomalyKind
from toolhut.i18n import N_, bilingual


class AlarmKind(StrEnum):
    FORCED_OPEN = "forced_open"  # the door opened while the lock was engaged
    HELD_OPEN = "held_open"  # the door stood open longer than its limit
    TAMPER = "tamper"  # enclosure switch or reader cable
    CONTROLLER_SILENT = "controller_silent"  # the gateway hears nothing from the controller
    CONTROLLER_ABSENT = "controller_absent"  # the controller's serial device is gone
    HUT_OFFLINE = "hut_offline"  # the gateway has been offline longer than the setting
    OUTBOX_BACKLOG = "outbox_backlog"  # events pile up at the hut, not acked


class AlarmSource(StrEnum):
    """Who noticed: the controller itself, the gateway, or the server's watch."""

    CONTROLLER = "controller"
    GATEWAY = "gateway"
    SERVER = "server"


# Told to the staff channel within seconds, once per incident (and reminded while nobody
# has acknowledged it); the others are listed for staff and wait for them there.
TOLD_TO_STAFF: Final = frozenset({AlarmKind.FORCED_OPEN, AlarmKind.TAMPER, AlarmKind.HUT_OFFLINE})

ALARM_TEXT: Mapping[AlarmKind, str] = MappingProxyType(
    {
        AlarmKind.FORCED_OPEN: bilingual("door forced open"),
        AlarmKind.HELD_OPEN: bilingual("door held open"),
        AlarmKind.TAMPER: bilingual("tamper"),
        AlarmKind.CONTROLLER_SILENT: bilingual("controller silent"),
        AlarmKind.CONTROLLER_ABSENT: bilingual("controller absent"),
        AlarmKind.HUT_OFFLINE: bilingual("hut offline"),
        AlarmKind.OUTBOX_BACKLOG: bilingual("events piling up at the hut"),
    }
)

# An outbox backlog's detail, as its alarm row keeps it.
BACKLOG_DETAIL = bilingual("{count} events waiting at the hut")

# Each name in one language (a page, a report), looked up with gettext where it is shown.
ALARM_NAMES: Mapping[str, str] = MappingProxyType(
    {
        AlarmKind.FORCED_OPEN.value: N_("Door forced open"),
        AlarmKind.HELD_OPEN.value: N_("Door held open"),
        AlarmKind.TAMPER.value: N_("Tampering"),
        AlarmKind.CONTROLLER_SILENT.value: N_("Controller not answering"),
        AlarmKind.CONTROLLER_ABSENT.value: N_("Controller not connected"),
        AlarmKind.HUT_OFFLINE.value: N_("Hut offline"),
        AlarmKind.OUTBOX_BACKLOG.value: N_("Events piling up at the hut"),
    }
)
ANOMALY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        AnomalyKind.RETURN_NOT_ON_LOAN.value: N_("return of an item not on loan"),
        AnomalyKind.UNSCANNED_REMOVAL.value: N_("door opened, nothing scanned"),
        AnomalyKind.MISSING_PART.value: N_("returned with a part missing"),
        AnomalyKind.NEEDS_REPAIR.value: N_("returned needing repair"),
        AnomalyKind.SCAN_BY_NOBODY.value: N_("a scan with no card and no session"),
        AnomalyKind.LOW_RATING.value: N_("a low rating with a comment"),
    }
)
ANOMALY_TEXT: Mapping[AnomalyKind, str] = MappingProxyType(
    {kind: bilingual(ANOMALY_NAMES[kind.value]) for kind in AnomalyKind}
)


@dataclass(frozen=True, slots=True)
class HutCondition:
    """A hut as the watch judges it: what its gateway last reported (``online`` since
    ``since``, ``outbox`` events waiting), the kinds of its unresolved alarms that are
    active, and the kinds raised at or after ``since`` (so one offline period makes one
    incident, even one staff resolved while it lasted)."""

    hut_id: str
    online: bool
    since: datetime
    outbox: int | None = None
    active: frozenset[AlarmKind] = frozenset()
    raised_since: frozenset[AlarmKind] = frozenset()


@dataclass(frozen=True, slots=True)
class WatchLimits:
    """When the watch raises: offline for ``offline_after``; ``outbox_high`` events
    waiting (cleared again at half of it, so a backlog around the limit is one incident)."""

    offline_after: timedelta = timedelta(minutes=5)
    outbox_high: int = 500

    @property
    def outbox_low(self) -> int:
        return self.outbox_high // 2


__all__ = [
    "ALARM_NAMES",
    "ALARM_TEXT",
    "ANOMALY_NAMES",
    "ANOMALY_TEXT",
    "BACKLOG_DETAIL",
    "TOLD_TO_STAFF",
    "AlarmKind",
    "AlarmSource",
    "HutCondition",
    "WatchLimits",
]
