"""The rule book's one entry point: ``decide(snapshot, command) -> Effects``.

Every change to items, loans, reservations and door sessions is decided here, from a
Snapshot storage loaded, and written by storage's effect writer; nothing else decides
one. Hut commands (card taps, enrol reads, door changes, scans, command reports) are in
hut_rules, the hut's alarm and controller reports in alarm_rules; staff commands are
registered beside them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.domain import alarm_rules, hut_rules, staff_rules
from server.domain.changes import Effects
from server.domain.commands import (
    AlarmReport,
    CardTap,
    CommandReport,
    ControllerReport,
    DoorChange,
    EnrolRead,
    Scan,
)
from server.domain.ledger_state import AccessSnapshot, Snapshot

Rule = Callable[[Any, Any], Effects]

RULES: dict[type, Rule] = {
    CardTap: hut_rules.card_tap,
    EnrolRead: hut_rules.enrol_read,
    DoorChange: hut_rules.door_change,
    Scan: hut_rules.scan,
    AlarmReport: alarm_rules.alarm_report,
    ControllerReport: alarm_rules.controller_report,
    CommandReport: hut_rules.command_report,
    **staff_rules.RULES,  # renew, mark lost, reserve, clear repair, holds, members, cards
}


def decide(snapshot: Snapshot | AccessSnapshot, command: object) -> Effects:
    """What ``command`` changes, given ``snapshot`` (what it stands on: an
    AccessSnapshot for the commands about members and cards, a Snapshot for the rest);
    raises TypeError for a command no rule knows."""
    rule = RULES.get(type(command))
    if rule is None:
        raise TypeError(f"no rule for {type(command).__name__}")
    return rule(snapshot, command)


__all__ = ["RULES", "Rule", "decide"]
