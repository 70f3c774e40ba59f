"""Reminders against a real database and real receiving endpoints (HTTP, SMTP)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.reminders import (
    DEFAULT_REMINDER_POLICY,
    Anchor,
    Audience,
    QuietHours,
    ReminderPolicyError,
    Stage,
    current_stages,
    policy_from_data,
    policy_to_data,
)
from server.reminders.config import ReminderSettings
from server.reminders.display import display_line_for_card
from server.reminders.scheduler import ReminderService, build_service
from server.seed import seed_demo
from server.storage import reminder_queries
from server.storage.models import Item, Loan, Member
from server.storage.reminder_models import (
    DeliveryStatus,
    ReminderAttempt,
    ReminderClaim,
    ReminderDelivery,
)

from .conftest import T0, MovableClock
from .receivers import WebhookReceiver, smtp_receiver, webhook_receiver

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


# --- pure rules -----------------------------------------------------------------------


def test_the_current_stage_supersedes_earlier_ones_per_audience() -> None:
    stages = DEFAULT_REMINDER_POLICY.stages_for(category="power_tools")
    due = local(28, 18)
    at = {
        local(27, 17): [],
        local(27, 18): ["due_soon"],
        local(28, 0): ["due_today"],  # midnight of the due day
        local(29, 18): ["overdue_1d"],
        due + timedelta(days=3, hours=1): ["overdue_3d"],
        due + timedelta(days=7): ["overdue_3d", "escalation_7d"],
    }
    for now, names in at.items():
        found = current_stages(stages, due_at=due, now=now, tz=SHANGHAI)
        assert [d.stage.name for d in found] == names, now


def test_quiet_hours_span_midnight_in_the_huts_zone() -> None:
    quiet = QuietHours(time(21), time(8))
    assert quiet.contains(local(27, 21), tz=SHANGHAI)
    assert quiet.contains(local(28, 7, 59), tz=SHANGHAI)
    assert not quiet.contains(local(28, 8), tz=SHANGHAI)
    assert quiet.next_end(local(27, 23), tz=SHANGHAI) == local(28, 8)
    assert quiet.next_end(local(28, 3), tz=SHANGHAI) == local(28, 8)
    assert quiet.next_end(local(28, 12), tz=SHANGHAI) == local(28, 12)


def test_policy_data_round_trips_and_bad_data_names_the_field() -> None:
    data = policy_to_data(DEFAULT_REMINDER_POLICY)
    assert policy_from_data(data) == DEFAULT_REMINDER_POLICY
    data["rules"][0]["stages"][1]["anchor"] = "noon"
    with pytest.raises(ReminderPolicyError, match=r"rules\[0\].stages\[1\].anchor"):
        policy_from_data(data)
    with pytest.raises(ReminderPolicyError, match="unknown field"):
        policy_from_data({"rules": [], "color": 1})
    ladders = policy_from_data(
        {
            "rules": [
                {
                    "categories": ["ladders"],
                    "groups": ["senior"],
                    "stages": [{"name": "early", "offset_hours": -48, "channels": ["display"]}],
                },
                {"stages": [{"name": "late", "offset_hours": 1, "channels": ["display"]}]},
            ]
        }
    )
    assert [s.name for s in ladders.stages_for(category="ladders", groups=["senior"])] == ["early"]
    assert [s.name for s in ladders.stages_for(category="ladders")] == ["late"]
    assert ladders.rules[0].stages[0].anchor is Anchor.DUE


# --- the sweep on a database -------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


def _settings(receiver: WebhookReceiver, **extra: object) -> ReminderSettings:
    """Loan reminders only: the demo's first-aid stock would add staff alerts (those are
    tested in test_reminders_ledger.py)."""
    return ReminderSettings(
        channels={
            "webhook": f"{receiver.apprise_base}/member",
            "sms": f"{receiver.apprise_base}/sms?:to={{address}}",
            "staff": f"{receiver.apprise_base}/staff",
        },
        **{"stock_alerts": False, **extra},
    )


def _service(
    sessions: sessionmaker[Session], settings: ReminderSettings, clock: MovableClock, **kw: object
) -> ReminderService:
    return build_service(settings, sessions=sessions, clock=clock, **kw)  # type: ignore[arg-type]


def _lend(
    sessions: sessionmaker[Session], tags: list[str], *, due_at: datetime, member: str = "张阿姨"
) -> int:
    """Open loans of ``tags`` for the demo member; returns the member id."""
    with sessions.begin() as db:
        if db.scalar(select(func.count()).select_from(Member)) == 0:
            seed_demo(db)
        person = db.scalars(select(Member).where(Member.name == member)).one()
        for tag in tags:
            item = db.scalars(select(Item).where(Item.tag == tag)).one()
            db.add(
                Loan(
                    item=item,
                    member=person,
                    hut_id="demo-hut",
                    borrowed_at=due_at - timedelta(days=3),
                    due_at=due_at,
                )
            )
        return person.id


def _bodies(receiver: WebhookReceiver, path: str) -> list[str]:
    return [post["message"] for where, post in receiver.posts if where.startswith(path)]


def test_one_message_per_member_and_stage_exactly_once_across_restarts(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    due = local(28, 18)
    member_id = _lend(sessions, ["T0001", "T0005"], due_at=due)
    with sessions.begin() as db:
        reminder_queries.set_contact(db, member_id=member_id, channel="sms", address="13800000000")
    settings = _settings(receiver)
    service = _service(sessions, settings, clock)

    report = service.sweep_once(local(27, 18))
    assert (report.messages, report.claims, report.sent, report.failed) == (1, 2, 3, 0)
    [body] = _bodies(receiver, "/member")  # a shared endpoint: the unit, not the name
    assert "3-201 的住户您好" in body and "电钻" in body and "哑铃" in body
    assert "24 小时内到期" in body and "张阿姨" not in body
    [(sms_path, sms)] = [(p, post) for p, post in receiver.posts if p.startswith("/sms")]
    assert sms["to"] == "13800000000" and "电钻" in sms["message"]
    assert "张阿姨您好" in sms["message"]  # the member's own phone

    # Again, and from a "restarted" process: nothing new for this stage.
    assert service.sweep_once(local(27, 19)).messages == 0
    assert _service(sessions, settings, clock).sweep_once(local(27, 20)).messages == 0
    assert len(_bodies(receiver, "/member")) == 1

    # Quiet hours: due_today reached at midnight, sent at 08:00.
    assert service.sweep_once(local(28, 0, 5)).messages == 0
    assert service.sweep_once(local(28, 8)).sent == 3
    assert "今天到期" in _bodies(receiver, "/member")[-1]

    # Returned meanwhile: the overdue stage lists only what is still out.
    with sessions.begin() as db:
        loan = db.scalars(select(Loan).join(Item).where(Item.tag == "T0005")).one()
        loan.returned_at = local(29, 9)
    service.sweep_once(local(29, 19))
    overdue = _bodies(receiver, "/member")[-1]
    assert "已逾期 1 天" in overdue and "电钻" in overdue and "哑铃" not in overdue

    # Escalation to staff after 7 days (staff ignore quiet hours).
    service.sweep_once(local(29, 19) + timedelta(days=6))
    [staff] = _bodies(receiver, "/staff")
    assert "张阿姨（3-201）" in staff and "已逾期 7 天" in staff
    with sessions() as db:
        claims = db.execute(select(ReminderClaim.subject, ReminderClaim.stage)).all()
    stages = sorted(stage for _, stage in claims)
    assert stages == sorted(
        ["due_soon"] * 2 + ["due_today"] * 2 + ["overdue_1d", "overdue_3d", "escalation_7d"]
    )


def test_failed_sends_are_logged_and_retried_with_backoff(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    _lend(sessions, ["T0001"], due_at=local(28, 18))
    settings = _settings(receiver, retry_base_s=60, max_attempts=3)
    service = _service(sessions, settings, clock)
    receiver.fail_next = 2
    first = service.sweep_once(local(27, 18))
    assert (first.sent, first.failed) == (1, 1)  # the hut display went, the webhook did not
    assert service.sweep_once(local(27, 18, 0) + timedelta(seconds=59)).failed == 0  # not yet
    assert service.sweep_once(local(27, 18, 1)).failed == 1  # second attempt, fails again
    assert service.sweep_once(local(27, 18, 2)).failed == 0  # backoff doubled: 120 s
    assert service.sweep_once(local(27, 18, 3)).sent == 1
    with sessions() as db:
        delivery = db.scalars(
            select(ReminderDelivery).where(ReminderDelivery.channel == "webhook")
        ).one()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)
        attempts = db.scalars(select(ReminderAttempt).order_by(ReminderAttempt.id)).all()
        webhook = [a for a in attempts if a.delivery_id == delivery.id]
        assert [a.ok for a in webhook] == [False, False, True]
        assert webhook[0].error is not None and "error=500" in webhook[0].error
    assert len(_bodies(receiver, "/member")) == 1


def test_no_message_body_or_address_reaches_the_log(
    sessions: sessionmaker[Session],
    receiver: WebhookReceiver,
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Apprise logs payloads at DEBUG and addresses in its lines: even a process logging at
    DEBUG keeps them out, and a failed send's stored error names no address."""
    member_id = _lend(sessions, ["T0001"], due_at=local(28, 18))
    with sessions.begin() as db:
        reminder_queries.set_contact(db, member_id=member_id, channel="sms", address="13800000000")
    caplog.set_level(logging.DEBUG)
    receiver.fail_next = 2  # the sms and the shared webhook fail at first (the display goes)
    service = _service(sessions, _settings(receiver), clock)
    assert service.sweep_once(local(27, 18)).failed == 2
    assert service.sweep_once(local(27, 19)).sent == 2
    assert [p for p, _ in receiver.posts if p.startswith("/sms")]  # it did go, in the end
    assert "13800000000" not in caplog.text and "电钻" not in caplog.text
    with sessions() as db:
        errors = db.scalars(select(ReminderAttempt.error).where(ReminderAttempt.ok.is_(False)))
        assert all("13800000000" not in (error or "") for error in errors)


def test_a_send_cut_short_by_a_crash_is_retried_after_the_lease(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    _lend(sessions, ["T0001"], due_at=local(28, 18))
    settings = _settings(receiver, lease_s=120)
    crashed = _service(sessions, settings, clock, worker_id="crashed")
    crashed.plan(local(27, 18))
    with sessions.begin() as db:  # leased, then the process "died" before sending
        leased = reminder_queries.lease_deliveries(
            db, now=local(27, 18), worker="crashed", until=local(27, 18, 2), limit=10
        )
    assert len(leased) == 2  # the webhook and the hut display
    other = _service(sessions, settings, clock, worker_id="other")
    assert other.sweep_once(local(27, 18, 1)).sent == 0  # lease still held
    assert other.sweep_once(local(27, 18, 3)).sent == 2
    assert len(_bodies(receiver, "/member")) == 1


def test_escalation_can_suspend_borrowing(
    sessions: sessionmaker[Session],
    receiver: WebhookReceiver,
    clock: MovableClock,
    tmp_path: object,
) -> None:
    from pathlib import Path

    policy = Path(str(tmp_path)) / "policy.json"
    policy.write_text(
        '{"rules": [{"stages": [{"name": "late", "offset_hours": 72, "template": "escalation",'
        ' "channels": ["staff"], "audience": "staff", "actions": ["suspend_borrowing"]}]}]}',
        encoding="utf-8",
    )
    member_id = _lend(sessions, ["T0001"], due_at=local(20, 18))
    service = _service(sessions, _settings(receiver, policy_file=policy), clock)
    assert service.sweep_once(local(27, 3)).sent == 1  # quiet hours do not hold staff back
    with sessions() as db:
        member = db.get(Member, member_id)
        assert member is not None and member.status == "suspended"


def test_display_line_waits_for_the_members_next_card_tap(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    _lend(sessions, ["T0001", "T0002"], due_at=local(28, 18))
    _service(sessions, _settings(receiver), clock).sweep_once(local(27, 18))
    with sessions.begin() as db:
        line = display_line_for_card(db, card_uid="04a1b2c3", now=local(27, 19))
        assert line == "电钻等2件明天到期"
        assert len(line.encode()) <= 64
    with sessions.begin() as db:  # shown once
        assert display_line_for_card(db, card_uid="04A1B2C3", now=local(27, 20)) is None
        assert display_line_for_card(db, card_uid="FFFFFFFF", now=local(27, 20)) is None


def test_email_in_chinese_lists_every_item(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    member_id = _lend(sessions, ["T0001", "T0003", "T0007"], due_at=local(26, 18))
    with smtp_receiver() as smtp:
        with sessions.begin() as db:
            reminder_queries.set_contact(
                db, member_id=member_id, channel="email", address="zhang@example.org"
            )
        settings = ReminderSettings(
            stock_alerts=False,
            channels={
                "email": f"mailto://127.0.0.1:{smtp.port}?mode=insecure"
                "&from=hut@example.org&to={address}"
            },
        )
        report = _service(sessions, settings, clock).sweep_once(local(27, 19))
        assert (report.sent, report.failed) == (2, 0)  # e-mail and the hut display
        [mail] = smtp.mails
    assert mail["To"] == "zhang@example.org"
    assert "逾期" in str(mail["Subject"])
    part = mail.get_body(preferencelist=("plain", "html"))
    assert part is not None
    text = part.get_content()
    for name in ("电钻", "梯子", "螺丝刀套装"):
        assert name in text
    assert text.count("已逾期 1 天") == 3


def test_english_contact_gets_english(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    member_id = _lend(sessions, ["T0001"], due_at=local(28, 18))
    with sessions.begin() as db:
        reminder_queries.set_contact(
            db, member_id=member_id, channel="sms", address="+86 138", locale="en"
        )
    _service(sessions, _settings(receiver), clock).sweep_once(local(27, 18))
    [sms] = [post for path, post in receiver.posts if path.startswith("/sms")]
    assert sms["to"] == "+86 138"
    assert "Power drill" in sms["message"] and "due within 24 hours" in sms["message"]


def test_staff_remind_now_over_http(
    engine: Engine, receiver: WebhookReceiver, clock: MovableClock
) -> None:
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.domain.roles import Role
    from server.settings import ServerSettings
    from tests.support.staff_auth import staff_headers

    sessions = sessionmaker(engine, expire_on_commit=False)
    member_id = _lend(sessions, ["T0001", "T0004"], due_at=local(30, 18))
    settings = ServerSettings(
        db_url=str(engine.url),
        reminders=_settings(receiver),
    )
    clock.now = local(27, 23)  # quiet hours: staff asked, so it goes anyway
    app = create_app(settings, clock=clock, engine=engine)
    staff = staff_headers(sessions, Role.STAFF)
    viewer = staff_headers(sessions, Role.VIEWER)
    with TestClient(app) as client:
        assert client.post(f"/api/v1/members/{member_id}/remind").status_code == 401
        assert client.post(f"/api/v1/members/{member_id}/remind", headers=viewer).status_code == 403
        first = client.post(f"/api/v1/members/{member_id}/remind", headers=staff)
        assert first.status_code == 200, first.text
        assert first.json()["loans"] == 2 and first.json()["sent"] == 2
        clock.advance(timedelta(minutes=1))
        assert client.post(f"/api/v1/members/{member_id}/remind", headers=staff).json()["sent"] == 2
        assert client.post("/api/v1/members/9999/remind", headers=staff).status_code == 404
        history = client.get(f"/api/v1/members/{member_id}/reminders", headers=staff).json()
        assert history["count"] == 4 and {d["status"] for d in history["data"]} == {"sent"}
    bodies = _bodies(receiver, "/member")
    assert len(bodies) == 2 and all("电钻" in b and "急救包" in b for b in bodies)
    assert isinstance(httpx, object)


def test_runtime_runs_the_scheduler(
    tmp_path: object, mqtt_url: str, topic_prefix: str, receiver: WebhookReceiver
) -> None:
    from server.app import ServerRuntime
    from server.settings import ServerSettings

    settings = ServerSettings(
        db_url=f"sqlite:///{tmp_path}/r.sqlite3",
        mqtt_url=mqtt_url,
        topic_prefix=topic_prefix,
        port=0,
        reminders=_settings(receiver, interval_s=3600),
        secret_file=f"{tmp_path}/server-secret",
    )
    runtime = ServerRuntime(settings, clock=MovableClock(local(27, 18)))
    runtime.start()
    try:
        assert runtime.reminders is not None
        assert runtime.reminders.sweep_once().messages == 0
    finally:
        runtime.stop()
    assert runtime.reminders is None


def test_audience_enum_values_are_what_the_table_stores() -> None:
    assert [a.value for a in Audience] == ["member", "staff"]
    assert Stage("x", timedelta(0), "x", ()).audience is Audience.MEMBER
    assert T0.tzinfo is UTC
