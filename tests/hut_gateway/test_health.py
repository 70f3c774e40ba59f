from __future__ import annotations

import pytest

from hut_gateway.health import AlarmChange, ControllerChange, HealthLimits, HealthMonitor
from toolhut.contract import AlarmKind

LIMITS = HealthLimits(held_open_s=60, controller_silent_s=6, reopen_first_s=0.5,
                      reopen_max_s=4)  # fmt: skip


def opened(now: float = 0) -> HealthMonitor:
    monitor = HealthMonitor(LIMITS)
    monitor.port_opened(now=now)
    assert monitor.heard(now=now, hello=True) == []  # the hello is an event of its own
    assert monitor.controller == "ok"
    return monitor


def test_silence_is_reported_once_and_the_next_frame_ends_it() -> None:
    monitor = opened()
    assert monitor.tick(now=5.9) == []
    assert monitor.tick(now=6) == [ControllerChange("silent")]
    assert monitor.tick(now=60) == []
    assert monitor.heard(now=61) == [ControllerChange("ok")]
    assert monitor.heard(now=62) == []


def test_a_port_that_opens_but_never_talks_goes_silent() -> None:
    monitor = HealthMonitor(LIMITS)
    monitor.port_opened(now=0)
    assert monitor.controller == "absent"
    assert monitor.tick(now=6) == [ControllerChange("silent")]


def test_a_lost_port_is_absent_and_reopened_with_growing_backoff() -> None:
    monitor = opened()
    assert monitor.port_lost(now=10) == [ControllerChange("absent")]
    assert monitor.tick(now=100) == []  # no silence while there is no port at all
    assert not monitor.reopen_due(now=10.4)
    assert monitor.reopen_due(now=10.5)
    waits = []
    now = 10.5
    for _ in range(5):
        assert monitor.open_failed(now=now) == []
        waits.append(monitor.reopen_delay)
        assert not monitor.reopen_due(now=now + monitor.reopen_delay - 0.01)
        now += monitor.reopen_delay
        assert monitor.reopen_due(now=now)
    assert waits == [1, 2, 4, 4, 4]
    monitor.port_opened(now=now)
    assert not monitor.reopen_due(now=now + 100)
    assert monitor.reopen_delay == 0.5
    assert monitor.heard(now=now, hello=True) == []
    assert monitor.controller == "ok"


def test_controller_alarms_are_changes_once_each_way() -> None:
    monitor = opened()
    raised = AlarmChange(AlarmKind.FORCED_OPEN, True, "controller")
    assert monitor.alarm(AlarmKind.FORCED_OPEN, active=True) == [raised]
    assert monitor.alarm(AlarmKind.FORCED_OPEN, active=True) == []
    assert monitor.alarm(AlarmKind.TAMPER, active=True) != []
    assert monitor.alarms == [AlarmKind.FORCED_OPEN, AlarmKind.TAMPER]
    assert monitor.door(is_open=False, now=1) == []  # the controller clears its own
    assert monitor.alarm(AlarmKind.FORCED_OPEN, active=False) == [
        AlarmChange(AlarmKind.FORCED_OPEN, False, "controller")
    ]
    assert monitor.alarm(AlarmKind.HELD_OPEN, active=False) == []
    assert monitor.alarms == [AlarmKind.TAMPER]


def test_held_open_backstop_raises_once_and_clears_on_close() -> None:
    monitor = opened()
    assert monitor.door(is_open=True, now=100) == []
    assert monitor.door(is_open=True, now=130) == []  # a repeat does not restart the limit
    monitor.heard(now=159)
    assert monitor.tick(now=159.9) == []
    assert monitor.tick(now=160) == [AlarmChange(AlarmKind.HELD_OPEN, True, "gateway")]
    monitor.heard(now=200)
    assert monitor.tick(now=200) == []
    # The controller says so too, late: still one alarm.
    assert monitor.alarm(AlarmKind.HELD_OPEN, active=True) == []
    assert monitor.door(is_open=False, now=201) == [
        AlarmChange(AlarmKind.HELD_OPEN, False, "gateway")
    ]
    assert monitor.alarm(AlarmKind.HELD_OPEN, active=False) == []
    assert monitor.alarms == []


def test_the_controllers_held_open_is_not_repeated_by_the_backstop() -> None:
    monitor = opened()
    monitor.door(is_open=True, now=0)
    monitor.alarm(AlarmKind.HELD_OPEN, active=True)
    monitor.heard(now=60)
    assert monitor.tick(now=60) == []
    assert monitor.door(is_open=False, now=61) == []  # the controller's to clear
    assert monitor.alarms == [AlarmKind.HELD_OPEN]


@pytest.mark.parametrize(
    "kwargs",
    [{"held_open_s": 0}, {"controller_silent_s": -1}, {"enrol_s": 0},
     {"reopen_first_s": 5, "reopen_max_s": 1}],
)  # fmt: skip
def test_limits_refuse_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="HealthLimits"):
        HealthLimits(**kwargs)
