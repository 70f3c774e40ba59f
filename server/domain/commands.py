"""The commands the rule book decides, in the domain's own terms: the ledger adapter
builds them from the gateway's events (toolhut.contract), the staff actions from their
requests, so hut and staff commands look alike and the rules import no wire format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from server.domain.alarms import AlarmKind, AlarmSource
from server.domain.remote_commands import CommandStatus


@dataclass(frozen=True, slots=True)
class CardTap:
    """A card read at the reader; ``unlocked``: the gateway let it open the door."""

    card_uid: str
    door_key: str | None
    unlocked: bool


@dataclass(frozen=True, slots=True)
class EnrolRead:
    """A card read in staff enrol mode: staff see it and give it to a member."""

    card_uid: str
    event_id: str


@dataclass(frozen=True, slots=True)
class DoorChange:
    door_key: str | None
    opened: bool


@dataclass(frozen=True, slots=True)
class Scan:
    """A QR label read at the hut (item, condition card or consumable shelf label)."""

    seq: int
    text: str
    card_uid: str | None
    door_key: str | None


@dataclass(frozen=True, slots=True)
class AlarmReport:
    """The controller (or the gateway) raised or cleared one of the door's alarms
    (``kind``: forced_open, held_open, tamper). ``heard_at``: when the server heard of it,
    which stamps the alarm's row as changed (the snapshot's ``now`` is when it happened)."""

    kind: AlarmKind
    active: bool
    source: AlarmSource
    event_id: str
    heard_at: datetime


@dataclass(frozen=True, slots=True)
class ControllerReport:
    """The gateway's word on its controller: hello, ok, silent or absent."""

    state: Literal["hello", "ok", "silent", "absent"]
    event_id: str
    heard_at: datetime


@dataclass(frozen=True, slots=True)
class CommandReport:
    """The gateway's report of what it did with a command (ours, or one the log does not
    know). ``door_key``: the door session a remote unlock it carried out opened."""

    command_id: str
    action: str
    outcome: CommandStatus  # done, expired or failed
    detail: str | None
    door_key: str | None


HutCommand = (
    CardTap | EnrolRead | DoorChange | Scan | AlarmReport | ControllerReport | CommandReport
)

__all__ = [
    "AlarmReport",
    "CardTap",
    "CommandReport",
    "ControllerReport",
    "DoorChange",
    "EnrolRead",
    "HutCommand",
    "Scan",
]
