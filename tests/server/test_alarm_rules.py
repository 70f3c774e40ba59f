"""When an alarm starts and ends, pure: the hut's alarm and controller reports through the
rule book, and the watch's judgement of a hut's reported state. No database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.domain.alarm_rules import watch_hut
from server.domain.alarms import (
    ALARM_TEXT,
    ANOMALY_TEXT,
    TOLD_TO_STAFF,
    AlarmKind,
    AlarmSource,
    HutCondition,
    WatchLimits,
)
from server.domain.changes import AlarmCleared, AlarmRaised
from server.domain.commands import AlarmReport, ControllerReport
from server.domain.ledger_state import AnomalyKind, Snapshot
from server.domain.rule_book import decide
from tests.server.domain_cases import NOW
from tests.server.rule_builders import HUT

HEARD = NOW + timedelta(hours=3)  # an alarm replayed after an outage: heard later
THEN = NOW  # when it happened at the hut
LIMITS = WatchLimits(offline_after=timedelta(minutes=5), outbox_high=500)


def _at_hut() -> Snapshot:
    """The light snapshot alarms stand on: the hut and the time it happened, nothing else."""
    return Snapshot(HUT, THEN)


@pytest.mark.parametrize("kind", [AlarmKind.FORCED_OPEN, AlarmKind.HELD_OPEN, AlarmKind.TAMPER])
def test_a_door_alarm_is_raised_at_its_own_time_and_told_only_if_staff_must_hear(
    kind: AlarmKind,
) -> None:
    report = AlarmReport(kind, True, AlarmSource.CONTROLLER, "ev-1", HEARD)
    effects = decide(_at_hut(), report)
    assert effects.changes == (
        AlarmRaised(
            "demo-hut",
            kind,
            AlarmSource.CONTROLLER,
            THEN,
            HEARD,
            event_id="ev-1",
            notify=kind in TOLD_TO_STAFF,
        ),
    )
    assert effects.decision is None and effects.reason is None


def test_forced_open_tamper_and_hut_offline_are_the_alarms_told_at_once() -> None:
    assert {AlarmKind.FORCED_OPEN, AlarmKind.TAMPER, AlarmKind.HUT_OFFLINE} == TOLD_TO_STAFF


def test_a_door_alarm_cleared_ends_it() -> None:
    report = AlarmReport(AlarmKind.FORCED_OPEN, False, AlarmSource.GATEWAY, "ev-2", HEARD)
    assert decide(_at_hut(), report).changes == (
        AlarmCleared("demo-hut", AlarmKind.FORCED_OPEN, THEN, HEARD),
    )


@pytest.mark.parametrize(
    ("state", "kind"),
    [("silent", AlarmKind.CONTROLLER_SILENT), ("absent", AlarmKind.CONTROLLER_ABSENT)],
)
def test_a_controller_silent_or_absent_raises_its_alarm_from_the_gateway(
    state: str, kind: AlarmKind
) -> None:
    report = ControllerReport(state, "ev-3", HEARD)  # type: ignore[arg-type]
    [change] = decide(_at_hut(), report).changes
    assert change == AlarmRaised(
        "demo-hut", kind, AlarmSource.GATEWAY, THEN, HEARD, event_id="ev-3", notify=False
    )


@pytest.mark.parametrize("state", ["ok", "hello"])
def test_a_controller_heard_again_ends_both_of_its_alarms(state: str) -> None:
    report = ControllerReport(state, "ev-4", HEARD)  # type: ignore[arg-type]
    assert decide(_at_hut(), report).changes == (
        AlarmCleared("demo-hut", AlarmKind.CONTROLLER_SILENT, THEN, HEARD),
        AlarmCleared("demo-hut", AlarmKind.CONTROLLER_ABSENT, THEN, HEARD),
    )


# The watch.


def _hut(**fields: object) -> HutCondition:
    base: dict[str, object] = {"hut_id": "demo-hut", "online": True, "since": NOW}
    base.update(fields)
    return HutCondition(**base)  # type: ignore[arg-type]


def test_a_hut_offline_for_less_than_the_limit_raises_nothing() -> None:
    hut = _hut(online=False)
    assert watch_hut(hut, now=NOW + timedelta(minutes=4, seconds=59), limits=LIMITS) == ()


def test_a_hut_offline_for_the_limit_raises_hut_offline_stamped_when_it_went() -> None:
    now = NOW + timedelta(minutes=5)
    [change] = watch_hut(_hut(online=False), now=now, limits=LIMITS)
    assert change == AlarmRaised(
        "demo-hut", AlarmKind.HUT_OFFLINE, AlarmSource.SERVER, NOW, now, notify=True
    )


def test_one_offline_period_is_one_incident_even_once_staff_resolved_it() -> None:
    now = NOW + timedelta(hours=1)
    active = _hut(online=False, active=frozenset({AlarmKind.HUT_OFFLINE}))
    resolved = _hut(online=False, raised_since=frozenset({AlarmKind.HUT_OFFLINE}))
    assert watch_hut(active, now=now, limits=LIMITS) == ()
    assert watch_hut(resolved, now=now, limits=LIMITS) == ()


def test_a_hut_back_online_clears_hut_offline() -> None:
    back = NOW + timedelta(minutes=20)
    hut = _hut(online=True, since=back, active=frozenset({AlarmKind.HUT_OFFLINE}))
    now = back + timedelta(seconds=1)
    assert watch_hut(hut, now=now, limits=LIMITS) == (
        AlarmCleared("demo-hut", AlarmKind.HUT_OFFLINE, back, now),
    )
    assert watch_hut(_hut(online=True, since=back), now=now, limits=LIMITS) == ()


def test_an_outbox_backing_up_raises_at_the_limit_and_clears_at_half_of_it() -> None:
    backlog = AlarmKind.OUTBOX_BACKLOG
    [raised] = watch_hut(_hut(outbox=500), now=NOW, limits=LIMITS)
    assert isinstance(raised, AlarmRaised) and raised.kind is backlog and not raised.notify
    assert raised.detail == "500 条事件待上传 / 500 events waiting at the hut"
    assert watch_hut(_hut(outbox=499), now=NOW, limits=LIMITS) == ()
    still = _hut(outbox=251, active=frozenset({backlog}))
    assert watch_hut(still, now=NOW, limits=LIMITS) == ()
    done = _hut(outbox=250, active=frozenset({backlog}))
    assert watch_hut(done, now=NOW, limits=LIMITS) == (AlarmCleared("demo-hut", backlog, NOW, NOW),)


def test_an_offline_huts_outbox_count_is_left_as_it_stands() -> None:
    stale = _hut(online=False, outbox=10_000, active=frozenset({AlarmKind.OUTBOX_BACKLOG}))
    assert watch_hut(stale, now=NOW + timedelta(minutes=1), limits=LIMITS) == ()


def test_every_alarm_and_anomaly_kind_has_its_bilingual_name() -> None:
    assert set(ALARM_TEXT) == set(AlarmKind) and set(ANOMALY_TEXT) == set(AnomalyKind)
    for text in [*ALARM_TEXT.values(), *ANOMALY_TEXT.values()]:
        chinese, english = text.split(" / ")
        assert chinese and not chinese.isascii() and english.isascii(), text
