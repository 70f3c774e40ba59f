"""Is the controller there, is it talking, is the door alarmed? Pure state: the caller
passes the time (monotonic seconds) and records the changes this returns as events.

The controller detects forced-open and held-open itself; the gateway's own held-open
limit is a backstop for a controller that does not say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from toolhut.contract import AlarmKind

ControllerHealth = Literal["ok", "silent", "absent"]
AlarmSource = Literal["controller", "gateway"]


@dataclass(frozen=True, slots=True)
class HealthLimits:
    held_open_s: float = 60.0
    # Three heartbeats of the controller's default 2 s: one lost frame is not an outage.
    controller_silent_s: float = 6.0
    # Reopening a lost serial device: first try after reopen_first_s, doubling to the max.
    reopen_first_s: float = 0.5
    reopen_max_s: float = 30.0
    # The longest a staff enrol command waits for a card before the hut goes back to normal
    # (the command's own expiry ends it sooner: the server sets it from staff's request).
    enrol_s: float = 300.0

    def __post_init__(self) -> None:
        for name in ("held_open_s", "controller_silent_s", "reopen_first_s", "enrol_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"HealthLimits.{name} must be positive, got {value!r}")
        if self.reopen_max_s < self.reopen_first_s:
            raise ValueError("HealthLimits.reopen_max_s must be at least reopen_first_s")


@dataclass(frozen=True, slots=True)
class ControllerChange:
    state: ControllerHealth


@dataclass(frozen=True, slots=True)
class AlarmChange:
    kind: AlarmKind
    active: bool
    source: AlarmSource


Change = ControllerChange | AlarmChange


class HealthMonitor:
    """Not thread-safe: the gateway calls it under its own lock."""

    def __init__(self, limits: HealthLimits) -> None:
        self.limits = limits
        self.controller: ControllerHealth = "absent"
        self._port_open = False
        self._last_heard = 0.0
        self._door_open_since: float | None = None
        self._alarms: dict[AlarmKind, AlarmSource] = {}
        self._reopen_delay = limits.reopen_first_s
        self._next_reopen: float | None = None

    @property
    def alarms(self) -> list[AlarmKind]:
        return [kind for kind in AlarmKind if kind in self._alarms]

    @property
    def port_open(self) -> bool:
        return self._port_open

    @property
    def reopen_delay(self) -> float:
        """How long the next reopen waits after a failure (grows, reset by an open)."""
        return self._reopen_delay

    # -- the serial device ----------------------------------------------------------------

    def port_opened(self, *, now: float) -> None:
        self._port_open = True
        self._last_heard = now  # the silence limit counts from the open
        self._reopen_delay = self.limits.reopen_first_s
        self._next_reopen = None

    def port_lost(self, *, now: float) -> list[Change]:
        self._port_open = False
        self._next_reopen = now + self._reopen_delay
        return self._set_controller("absent")

    def open_failed(self, *, now: float) -> list[Change]:
        """A (re)open attempt failed: try again later, waiting longer each time."""
        self._port_open = False
        self._reopen_delay = min(self._reopen_delay * 2, self.limits.reopen_max_s)
        self._next_reopen = now + self._reopen_delay
        return self._set_controller("absent")

    def reopen_due(self, *, now: float) -> bool:
        return not self._port_open and self._next_reopen is not None and now >= self._next_reopen

    # -- what the controller says ------------------------------------------------------------

    def heard(self, *, now: float, hello: bool = False) -> list[Change]:
        """Any good frame. A Hello is recorded as its own event, so it brings no "ok"."""
        self._last_heard = now
        changes = self._set_controller("ok")
        return [] if hello else changes

    def door(self, *, is_open: bool, now: float) -> list[Change]:
        if is_open:
            if self._door_open_since is None:
                self._door_open_since = now
            return []
        self._door_open_since = None
        # Only what the gateway raised itself; the controller clears its own alarms.
        if self._alarms.get(AlarmKind.HELD_OPEN) == "gateway":
            return self._set_alarm(AlarmKind.HELD_OPEN, active=False, source="gateway")
        return []

    def alarm(self, kind: AlarmKind, *, active: bool) -> list[Change]:
        return self._set_alarm(kind, active=active, source="controller")

    # -- the passing of time ---------------------------------------------------------------

    def tick(self, *, now: float) -> list[Change]:
        changes: list[Change] = []
        if (
            self._port_open
            and self.controller != "silent"
            and now - self._last_heard >= self.limits.controller_silent_s
        ):
            changes += self._set_controller("silent")
        since = self._door_open_since
        if (
            since is not None
            and now - since >= self.limits.held_open_s
            and AlarmKind.HELD_OPEN not in self._alarms
        ):
            changes += self._set_alarm(AlarmKind.HELD_OPEN, active=True, source="gateway")
        return changes

    # -- helpers -----------------------------------------------------------------------------

    def _set_controller(self, state: ControllerHealth) -> list[Change]:
        if self.controller == state:
            return []
        self.controller = state
        return [ControllerChange(state)]

    def _set_alarm(self, kind: AlarmKind, *, active: bool, source: AlarmSource) -> list[Change]:
        if active == (kind in self._alarms):
            return []  # raised twice (controller and backstop) or cleared twice: one event
        if active:
            self._alarms[kind] = source
        else:
            del self._alarms[kind]
        return [AlarmChange(kind, active, source)]
