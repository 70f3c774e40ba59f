"""The staff channel for alarms, against a real database and a real webhook receiver: a
forced open is told once per incident, a reminder follows while nobody acknowledged it
(the clock moved, not waited for), quiet hours hold nothing back, two processes send one
message, a failed send is retried."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.alarms.config import AlarmSettings
from server.alarms.service import AlarmService
from server.domain.actors import Actor
from server.ledger import apply_event
from server.records import reviews
from server.reminders.channels import build_channels
from server.reminders.config import ReminderSettings
from server.seed import seed_demo
from server.storage.audit import Stamp
from server.storage.models import Hut
from server.storage.operations_models import Alarm
from server.storage.reminder_models import DeliveryStatus, ReminderClaim, ReminderDelivery
from toolhut.contract import AlarmKind

from .conftest import T0, MovableClock
from .factories import alarm
from .receivers import WebhookReceiver, webhook_receiver

HUT = "demo-hut"
NIGHT = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: quiet hours


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as db:
        seed_demo(db)
    return sessions


def _service(
    sessions: sessionmaker[Session],
    receiver: WebhookReceiver,
    clock: MovableClock,
    *,
    worker: str = "test",
    **alarm_settings: Any,
) -> AlarmService:
    reminders = ReminderSettings(channels={"staff": f"{receiver.apprise_base}/staff"})
    channels = build_channels(reminders.channels, sessions=sessions, clock=clock)
    return AlarmService(
        settings=AlarmSettings(**alarm_settings),
        reminders=reminders,
        sessions=sessions,
        channels=channels,
        worker_id=worker,
    )


def _apply(sessions: sessionmaker[Session], *events: Any, at: datetime = T0) -> None:
    with sessions.begin() as db:
        hut = db.get(Hut, HUT)
        assert hut is not None
        for event in events:
            apply_event(db, event, hut=hut, received_at=at)


def _staff_posts(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    with receiver.lock:
        return [post for path, post in receiver.posts if path.startswith("/staff")]


def _alarm(sessions: sessionmaker[Session]) -> Alarm:
    with sessions() as db:
        return db.scalars(select(Alarm)).one()


def test_a_forced_open_is_told_once_in_both_languages_without_personal_data(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock)
    _apply(seeded, alarm(HUT, 1))
    report = service.notifier.notify(T0 + timedelta(seconds=1))
    assert report.sent == 1
    [post] = _staff_posts(receiver)
    assert post["title"] == "工具屋告警 / Tool hut alarm"
    body = post["message"]
    assert "门被强行打开 / door forced open（幸福里社区工具屋）2026-11-27 10:00:00" in body
    row = _alarm(seeded)
    assert f"告警 #{row.id} / alarm #{row.id}" in body and "仍在报警 / still active" in body
    for personal in ("04A1B2C3", "张阿姨"):
        assert personal not in body
    assert row.notified_at == T0 + timedelta(seconds=1) and row.reminders_sent == 0
    assert row.notify_due_at == T0 + timedelta(seconds=1, minutes=30)
    # Looking again, and the incident starting again after it cleared: nothing more is sent.
    _apply(seeded, alarm(HUT, 2, active=False), alarm(HUT, 3), at=T0 + timedelta(seconds=2))
    service.notifier.notify(T0 + timedelta(seconds=3))
    assert len(_staff_posts(receiver)) == 1
    assert _alarm(seeded).repeats == 1


def test_an_unacknowledged_alarm_is_reminded_after_the_setting_and_no_more_than_set(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock, remind_after_s=1800, max_reminders=2)
    ended = T0 + timedelta(minutes=1)
    _apply(seeded, alarm(HUT, 1), alarm(HUT, 2, active=False, ts=ended), at=ended)
    service.notifier.notify(T0)
    service.notifier.notify(T0 + timedelta(minutes=29, seconds=59))
    assert len(_staff_posts(receiver)) == 1
    for n in (1, 2, 3):
        service.notifier.notify(T0 + timedelta(minutes=30 * n))
    posts = _staff_posts(receiver)
    assert len(posts) == 3  # the first message and two reminders, then no more
    assert posts[1]["title"] == "工具屋告警仍无人确认 / Tool hut alarm not acknowledged yet"
    assert "已于 11-27 10:01:00 结束 / ended at 11-27 10:01:00" in posts[1]["message"]
    row = _alarm(seeded)
    assert (row.reminders_sent, row.notify_due_at) == (2, None)
    with seeded() as db:
        stages = sorted(db.scalars(select(ReminderClaim.stage)))
    assert stages == ["alarm#0", "alarm#1", "alarm#2"]


def test_acknowledging_stops_the_reminders_and_resolving_ends_the_incident(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock)
    _apply(seeded, alarm(HUT, 1, AlarmKind.TAMPER))
    service.notifier.notify(T0)
    row = _alarm(seeded)
    stamp = Stamp(Actor("tester"), T0 + timedelta(minutes=5))
    with seeded.begin() as db:
        reviews.acknowledge(db, reviews.ALARMS, row.id, note="on my way", stamp=stamp)
    service.notifier.notify(T0 + timedelta(hours=3))
    assert len(_staff_posts(receiver)) == 1
    assert _alarm(seeded).notify_due_at is None


def test_quiet_hours_hold_back_no_alarm(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock)
    _apply(seeded, alarm(HUT, 1, ts=NIGHT), at=NIGHT)
    service.notifier.notify(NIGHT + timedelta(seconds=1))
    [post] = _staff_posts(receiver)
    assert "2026-11-27 23:30:00" in post["message"]


def test_alarms_staff_need_not_hear_at_once_are_only_listed(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock)
    _apply(seeded, alarm(HUT, 1, AlarmKind.HELD_OPEN))
    service.notifier.notify(T0 + timedelta(hours=2))
    assert _staff_posts(receiver) == []
    assert _alarm(seeded).notified_at is None


def test_two_processes_looking_at_once_send_one_message(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    services = [_service(seeded, receiver, clock, worker=f"w{n}") for n in range(2)]
    _apply(seeded, alarm(HUT, 1))
    start = threading.Barrier(2)

    def look(service: AlarmService) -> None:
        start.wait(10)
        service.notifier.notify(T0 + timedelta(seconds=1))

    threads = [threading.Thread(target=look, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(_staff_posts(receiver)) == 1


def test_a_failed_send_is_retried_by_the_next_look_after_its_delay(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock)
    _apply(seeded, alarm(HUT, 1))
    receiver.fail_next = 1
    assert service.notifier.notify(T0).failed == 1
    service.notifier.notify(T0 + timedelta(seconds=59))  # the first retry waits 60 s
    assert _staff_posts(receiver) == []
    assert service.notifier.notify(T0 + timedelta(seconds=61)).sent == 1
    assert len(_staff_posts(receiver)) == 1
    with seeded() as db:
        [delivery] = db.scalars(select(ReminderDelivery))
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


def test_an_alarm_channel_not_configured_reaches_nobody_and_breaks_nothing(
    seeded: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    service = _service(seeded, receiver, clock, channels=["nowhere"])
    _apply(seeded, alarm(HUT, 1))
    report = service.notifier.notify(T0)
    assert (report.messages, report.deliveries, report.sent) == (1, 0, 0)
    assert _alarm(seeded).notified_at == T0


@pytest.mark.parametrize("enabled", [True, False])
def test_the_server_runtime_runs_the_alarm_loop_unless_disabled(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, enabled: bool
) -> None:
    from server.app import ServerRuntime
    from server.settings import ServerSettings

    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path}/a.sqlite3",
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
        secret_file=tmp_path / "server-secret",
        alarms=AlarmSettings(enabled=enabled),
    )
    runtime = ServerRuntime(settings)
    runtime.start()
    try:
        running = {thread.name for thread in threading.enumerate()}
        assert ("toolhut-alarms" in running) is enabled
    finally:
        runtime.stop()
    assert runtime.alarms is None
    assert "toolhut-alarms" not in {thread.name for thread in threading.enumerate()}


def test_the_alarm_loop_outlives_a_failed_look(caplog: pytest.LogCaptureFixture) -> None:
    """A look that fails (the database away) is logged; the next one runs."""
    from server.alarms.service import AlarmLoop

    looked_again = threading.Event()
    calls: list[bool] = []

    class Failing:
        settings = AlarmSettings(poll_s=0.05, watch_s=0.05)

        def tick(self, now: datetime, *, watch: bool = True) -> None:
            calls.append(watch)
            if len(calls) == 1:
                raise RuntimeError("database away")
            looked_again.set()

    loop = AlarmLoop(Failing(), clock=lambda: T0)  # type: ignore[arg-type]
    loop.start()
    try:
        assert looked_again.wait(10)
    finally:
        loop.stop()
    assert "alarm loop failed" in caplog.text
