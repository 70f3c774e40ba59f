"""The reminder sweep and the ledger: staff stock alerts, the ledger's notification
requests (reservation_ready), expired holds, on SQLite and PostgreSQL with a real HTTP
receiver behind Apprise."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.reminders.config import ReminderSettings
from server.reminders.display import display_line_for_card
from server.reminders.scheduler import ReminderService, build_service
from server.storage import consumables, reminder_queries, reservations
from server.storage.models import (
    Card,
    ConsumableBatch,
    NotificationRequest,
    Reservation,
)
from server.storage.reminder_models import DeliveryStatus, ReminderAttempt, ReminderDelivery

from .receivers import WebhookReceiver, webhook_receiver
from .test_ledger_flows import LI, STAFF, ZHANG, Hut1

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def hut(sessions: sessionmaker[Session]) -> Hut1:
    from server.seed import seed_demo

    with sessions.begin() as db:
        seed_demo(db)  # 纱布 4 left (minimum 5); 5 创可贴 expire 2026-12-15
    return Hut1(sessions)


def _service(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, **extra: object
) -> ReminderService:
    settings = ReminderSettings(
        channels={
            "webhook": f"{receiver.apprise_base}/member",  # shared: a group bot
            "sms": f"{receiver.apprise_base}/sms?:to={{address}}",
            "staff": f"{receiver.apprise_base}/staff",
        },
        **extra,
    )
    return build_service(settings, sessions=sessions)


def _posts(receiver: WebhookReceiver, path: str) -> list[dict[str, str]]:
    return [post for where, post in receiver.posts if where.startswith(path)]


def _set_sms(sessions: sessionmaker[Session], card: str, number: str, locale: str = "zh") -> int:
    with sessions.begin() as db:
        member_id = db.scalars(select(Card.member_id).where(Card.uid == card)).one()
        reminder_queries.set_contact(
            db, member_id=member_id, channel="sms", address=number, locale=locale
        )
        return member_id


# --- restock and expiry ------------------------------------------------------------------


def test_restock_alert_goes_once_and_again_after_a_refill_runs_low(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    service = _service(sessions, receiver, my_page_url="https://huts.example.org/me")
    first = service.sweep_once(hut.now)
    assert first.failed == 0
    bodies = [post["message"] for post in _posts(receiver, "/staff")]
    [restock] = [b for b in bodies if "补货" in b]
    assert "医用纱布（幸福里社区工具屋）：剩 4，最低 5" in restock
    assert "huts.example.org" not in restock  # a resident's own page: not in staff's news
    assert "创可贴" not in restock and "碘伏棉签" not in restock  # 35 and 8 left: enough

    for hours in (1, 5, 30):  # still low: not again, sweep after sweep
        service.sweep_once(hut.now + timedelta(hours=hours))
    hut.visit(ZHANG)  # one more taken: lower, but the same shortage
    hut.scan("C0003")
    hut.close()
    service.sweep_once(hut.now + timedelta(hours=31))
    assert sum("补货" in p["message"] for p in _posts(receiver, "/staff")) == 1

    with sessions.begin() as db:  # staff refill: 3 + 10 > 5
        gauze = consumables.find(db, "C0003")
        assert gauze is not None
        delivery = consumables.add_batch(db, gauze, quantity=10, expires_on=None)
    service.sweep_once(hut.now + timedelta(days=2))
    assert sum("补货" in p["message"] for p in _posts(receiver, "/staff")) == 1
    with sessions.begin() as db:  # ... and used up again down to the minimum
        batch = db.get(ConsumableBatch, delivery.id)
        assert batch is not None
        batch.quantity = 2
    service.sweep_once(hut.now + timedelta(days=3))
    again = [p["message"] for p in _posts(receiver, "/staff") if "补货" in p["message"]]
    assert len(again) == 2 and "医用纱布（幸福里社区工具屋）：剩 5，最低 5" in again[1]


def test_expiry_alert_when_a_batch_comes_close_and_again_when_it_has_expired(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    service = _service(sessions, receiver)
    service.sweep_once(hut.now)
    service.sweep_once(hut.now + timedelta(days=1))

    def expiry() -> list[str]:
        return [p["message"] for p in _posts(receiver, "/staff") if "过期" in p["title"]]

    [soon] = expiry()
    assert "创可贴（幸福里社区工具屋），有效期至 2026-12-15，剩 5" in soon
    assert "2027" not in soon  # the other batches are months away
    service.sweep_once(datetime(2026, 12, 15, 23, 0, tzinfo=SHANGHAI))  # last day: no news
    assert len(expiry()) == 1
    service.sweep_once(datetime(2026, 12, 16, 9, 0, tzinfo=SHANGHAI))
    service.sweep_once(datetime(2026, 12, 17, 9, 0, tzinfo=SHANGHAI))
    assert len(expiry()) == 2
    assert "有效期至 2026-12-15，已过期，剩 5" in expiry()[1]


def test_stock_alerts_in_english_and_without_a_staff_channel(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    english = _service(sessions, receiver, default_locale="en")
    english.sweep_once(hut.now)
    titles = sorted(p["title"] for p in _posts(receiver, "/staff"))
    assert titles == ["Tool hut: items expiring", "Tool hut: restock needed"]
    restock = next(p["message"] for p in _posts(receiver, "/staff") if "restock" in p["title"])
    assert "Gauze (幸福里社区工具屋): 4 left, minimum 5" in restock

    off = _service(sessions, receiver, stock_alerts=False)
    assert off.alerts is None


# --- the ledger's notification requests ------------------------------------------------------


def _reserve_and_return(hut: Hut1, sessions: sessionmaker[Session], *queue: str) -> None:
    """张阿姨 borrows the drill, ``queue`` reserve it, she brings it back: held for the first."""
    _reserve_and_bring_back(hut, sessions, *queue)
    hut.close()


def _reserve_and_bring_back(hut: Hut1, sessions: sessionmaker[Session], *queue: str) -> None:
    """As _reserve_and_return, with the door of the return still open."""
    from server import staff_actions

    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    with sessions.begin() as db:
        for card in queue:
            staff_actions.reserve(db, tag="T0001", card=card, now=hut.now)
    hut.now += timedelta(days=1)
    hut.visit(ZHANG)
    hut.scan("T0001")


def _hold_until(sessions: sessionmaker[Session]) -> datetime:
    with sessions() as db:
        held = db.scalars(select(Reservation).where(Reservation.state == "held")).one()
        assert held.hold_until is not None
        return held.hold_until


def test_reservation_ready_reaches_the_member_once_on_every_channel(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    _set_sms(sessions, LI, "13900000000")
    _reserve_and_return(hut, sessions, LI)
    until = _hold_until(sessions).astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")
    service = _service(sessions, receiver, stock_alerts=False)

    report = service.sweep_once(hut.now)
    assert (report.notices, report.sent, report.failed) == (1, 3, 0)
    [sms] = _posts(receiver, "/sms")
    assert sms["to"] == "13900000000" and sms["title"] == "工具屋：您预约的物品可以领取了"
    assert f"李师傅您好，您预约的物品已回到工具屋，为您保留到 {until}" in sms["message"]
    assert "· 电钻（幸福里社区工具屋）" in sms["message"]
    [group] = _posts(receiver, "/member")  # the shared bot: the unit, not the name
    assert "5-502 的住户您好" in group["message"] and "李师傅" not in group["message"]
    with sessions.begin() as db:
        line = display_line_for_card(db, card_uid=LI, now=hut.now)
        assert line == "您预约的 电钻 已可领取"  # the ledger's words, on the hut display
        note = db.scalars(select(NotificationRequest)).one()
        assert note.sent_at == hut.now
        assert reservations.pending_notifications(db) == []

    again = service.sweep_once(hut.now + timedelta(minutes=5))
    assert (again.notices, again.sent) == (0, 0)
    assert len(receiver.posts) == 2


def test_reservation_ready_in_english_and_not_held_back_by_quiet_hours(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    _set_sms(sessions, LI, "+86 139", locale="en")
    hut.now = datetime(2026, 11, 27, 22, 30, tzinfo=SHANGHAI).astimezone(UTC)
    _reserve_and_return(hut, sessions, LI)  # back at 22:30 the next evening
    report = _service(sessions, receiver, stock_alerts=False).sweep_once(hut.now)
    assert report.sent == 3  # the hold runs at night too: no waiting for 08:00
    [sms] = _posts(receiver, "/sms")
    assert sms["title"] == "Tool hut: your reserved item is back"
    assert "- Power drill (幸福里社区工具屋)" in sms["message"]


def test_a_withdrawn_notice_is_not_sent(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    _set_sms(sessions, LI, "13900000000")
    _reserve_and_bring_back(hut, sessions, LI)
    service = _service(sessions, receiver, stock_alerts=False)
    assert service.plan_notices(hut.now).notices == 1
    hut.scan("COND:REPAIR")  # found broken: the repair card undoes the hold
    hut.close()
    report = service.deliver(hut.now)
    assert (report.sent, report.cancelled) == (0, 3)
    assert receiver.posts == []
    with sessions.begin() as db:
        assert display_line_for_card(db, card_uid=LI, now=hut.now) is None


def test_the_sweep_releases_an_expired_hold_and_tells_the_next_in_line(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    _set_sms(sessions, LI, "13900000000")
    _set_sms(sessions, STAFF, "13700000000")
    _reserve_and_return(hut, sessions, LI, STAFF)
    service = _service(sessions, receiver, stock_alerts=False)
    assert service.sweep_once(hut.now).holds_expired == 0
    assert [p["to"] for p in _posts(receiver, "/sms")] == ["13900000000"]

    later = _hold_until(sessions) + timedelta(minutes=1)  # 李师傅 never came
    report = service.sweep_once(later)
    assert (report.holds_expired, report.notices) == (1, 1)
    assert [p["to"] for p in _posts(receiver, "/sms")] == ["13900000000", "13700000000"]
    with sessions() as db:
        states = [r.state for r in db.scalars(select(Reservation).order_by(Reservation.id))]
        assert states == ["expired", "held"]
        notes = db.scalars(select(NotificationRequest).order_by(NotificationRequest.id))
        assert [n.sent_at for n in notes] == [hut.now, later]
    assert service.sweep_once(later + timedelta(minutes=5)).holds_expired == 0


# --- delivery in chunks ------------------------------------------------------------------------


def test_chunks_out_of_time_give_their_deliveries_back_unsent(
    hut: Hut1, sessions: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    _set_sms(sessions, LI, "13900000000")
    _reserve_and_return(hut, sessions, LI)
    # A lease this short runs out before the first send: nothing may go out on it.
    hasty = _service(sessions, receiver, stock_alerts=False, lease_s=0.000001, deliver_chunk=1)
    report = hasty.sweep_once(hut.now)
    assert (report.notices, report.sent, report.failed) == (1, 0, 0)
    with sessions() as db:
        rows = db.scalars(select(ReminderDelivery)).all()
        assert {(r.status, r.attempts, r.claimed_until) for r in rows} == {
            (DeliveryStatus.PENDING, 0, None)
        }
        assert db.scalars(select(ReminderAttempt)).all() == []
    report = _service(sessions, receiver, stock_alerts=False, deliver_chunk=1).sweep_once(hut.now)
    assert report.sent == 3 and len(receiver.posts) == 2
