"""A resident's own loans and waiting lists on the phone, end to end on SQLite and
PostgreSQL: signed in by a code from the hut, they renew a loan (or read why not), join an
item's waiting list from its page (signed out: sign in, and back), see their place, leave
it, and are told with a link to /me when the item is held for them; their history, a page
at a time; nobody else's loans on any of it, and no bad field a server error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import MemberStatus
from server.domain.ledger_state import ACTIVE_RESERVATION, Snapshot
from server.reminders.config import ReminderSettings
from server.reminders.scheduler import build_service
from server.settings import ServerSettings
from server.storage import reminder_queries, staff_snapshots
from server.storage.models import (
    ACTIVE_RESERVATION_SQL,
    Item,
    Loan,
    Member,
    Reservation,
)
from server.storage.staff_models import AuditEntry
from server.web import resident_loans
from tests.server.conftest import T0, MovableClock
from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.server.web.resident_phone import (
    LI,
    STAFF,
    ZHANG,
    DemoHut,
    member_of,
    open_loan_id,
    sign_in_phone,
    signed_in_phone,
)
from tests.support.console import Console

MY_PAGE = "https://huts.example.org/me"
_SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_loan_is_renewed_by_the_staff_rule_and_then_says_why_not_again(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    phone = signed_in_phone(browser, sessions, clock, ZHANG)
    drill = open_loan_id(sessions, "T0001")
    with sessions() as db:
        due = db.get(Loan, drill).due_at  # type: ignore[union-attr]
    mine = phone.get("/me")
    assert "电钻" in mine.text and f'name="loan" value="{drill}"' in mine.text
    clock.advance(timedelta(days=1))
    renewed = phone.post("/me/renew", {"loan": str(drill)}, page="/me")
    assert renewed.status_code == 303 and renewed.headers["location"] == "/me?done=renewed"
    with sessions() as db:
        loan = db.get(Loan, drill)
        assert loan is not None and loan.renewals == 1
        assert loan.due_at == due + timedelta(days=3)  # one more period of power tools
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "loan.renew")).one()
        assert entry.actor == f"member:{member_of(sessions, ZHANG)}" and entry.user_id is None
    after = phone.get("/me?done=renewed")
    assert "已续借" in after.text
    assert 'name="loan"' not in after.text  # power tools renew once
    assert "这件物品不能再续借了" in after.text
    again = phone.post("/me/renew", {"loan": str(drill)}, page="/me")
    assert again.status_code == 409 and "这件物品不能再续借了" in again.text
    phone.client.cookies.set("toolhut_lang", "en")  # English beside
    english = phone.get("/me?done=renewed").text
    assert "Renewed: the new due date is below." in english and "Power drill" in english
    assert "No renewals left for this item" in english
    phone.client.cookies.set("toolhut_lang", "zh_CN")
    # Past the due date: said plainly at the top of the loan.
    clock.advance(timedelta(days=6))
    assert "已逾期" in phone.get("/me").text


def test_nobody_waiting_is_the_condition_and_a_ladder_never_renews(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    li = signed_in_phone(browser, sessions, clock, LI)
    ladder = li.get("/me")
    assert "梯子" in ladder.text and 'name="loan"' not in ladder.text
    assert "这件物品不能再续借了" in ladder.text
    joined = li.post("/me/waiting", {"tag": "T0001"}, page="/i/T0001")
    assert joined.status_code == 303
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)
    page = zhang.get("/me")
    assert "有邻居在排队等它" in page.text and 'name="loan"' not in page.text
    refused = zhang.post("/me/renew", {"loan": str(open_loan_id(sessions, "T0001"))}, page="/me")
    assert refused.status_code == 409 and "有邻居在排队等它" in refused.text
    assert "李师傅" not in refused.text  # who waits is never said


def test_a_suspended_member_reads_why_nothing_renews(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    phone = signed_in_phone(browser, sessions, clock, ZHANG)
    with sessions.begin() as db:
        member = db.get(Member, member_of(sessions, ZHANG))
        assert member is not None
        member.status = MemberStatus.SUSPENDED
    page = phone.get("/me")
    assert "您的账户已暂停" in page.text and 'name="loan"' not in page.text
    join = phone.post("/me/waiting", {"tag": "T0003"}, page="/i/T0003")
    assert join.status_code == 409 and "您的账户已暂停" in join.text


def test_join_from_the_item_page_signed_out_sign_in_and_back_then_place_and_leave(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    anyone = browser()
    item = anyone.get("/i/T0001")
    assert item.status_code == 200 and "排队" in item.text
    assert 'href="/me/sign-in?next=/i/T0001"' in item.text  # no form to post signed out
    assert 'action="/me/waiting"' not in item.text
    shelf = anyone.get("/i/T0002")  # on the shelf: borrow it, no waiting list
    assert "登录后排队预约" not in shelf.text and "刷卡" in shelf.text
    # Signed out (a session run out), joining leads to the sign-in page, then back.
    stale = anyone.post("/me/waiting", {"tag": "T0001"}, page="/me/sign-in")
    assert stale.status_code == 303
    assert stale.headers["location"] == "/me/sign-in?next=/i/T0001"
    assert sign_in_phone(anyone, sessions, clock, LI, "/i/T0001").headers["location"] == "/i/T0001"
    signed = anyone.get("/i/T0001")
    assert 'action="/me/waiting"' in signed.text
    joined = anyone.post("/me/waiting", {"tag": "T0001"})
    assert joined.status_code == 303 and joined.headers["location"] == "/i/T0001"
    assert "您排在第 1 位" in anyone.get("/i/T0001").text
    staff = signed_in_phone(browser, sessions, clock, STAFF, "/i/T0001")
    assert staff.post("/me/waiting", {"tag": "t0001"}, page="/i/T0001").status_code == 303
    assert "您排在第 2 位" in staff.get("/i/T0001").text
    listed = staff.get("/me")
    assert "您排在第 2 位" in listed.text and "电钻" in listed.text
    # The page stays public: nobody signed out learns who has it or who waits.
    public = browser().get("/i/T0001").text
    assert not any(name in public for name in ("张阿姨", "李师傅", "社区管理员", "3-201"))
    # 李师傅 leaves from /me: the next one moves up.
    left = anyone.post("/me/waiting/leave", {"tag": "T0001"}, page="/me")
    assert left.status_code == 303 and left.headers["location"] == "/me?done=left"
    assert "您已退出排队" in anyone.get("/me?done=left").text
    assert "您排在第 1 位" in staff.get("/i/T0001").text
    gone = anyone.post("/me/waiting/leave", {"tag": "T0001"}, page="/me")
    assert gone.status_code == 409 and "您不在（或已不在）这个排队里" in gone.text
    with sessions() as db:
        states = db.scalars(select(Reservation.state).order_by(Reservation.id)).all()
        assert states == ["cancelled", "waiting"]
        actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["reservation.add", "reservation.add", "reservation.cancel"]


def test_waiting_list_refusals_are_clear_messages(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    li = signed_in_phone(browser, sessions, clock, LI)
    refusals = {
        "T0003": (409, "它就在您手上"),  # his own ladder
        "T0002": (409, "它就在架上"),  # on the shelf
        "T9999": (404, ""),  # no such item
        "not a tag!": (404, ""),
    }
    for tag, (code, text) in refusals.items():
        response = li.post("/me/waiting", {"tag": tag}, page="/me")
        assert response.status_code == code and text in response.text, tag
    assert li.post("/me/waiting", {"tag": "T0001"}, page="/i/T0001").status_code == 303
    twice = li.post("/me/waiting", {"tag": "T0001"}, page="/i/T0001")
    assert twice.status_code == 409 and "您已经在排队了" in twice.text
    with sessions.begin() as db:
        retired = db.scalars(select(Item).where(Item.tag == "T0009")).one()
        retired.status = "retired"
    gone = li.post("/me/waiting", {"tag": "T0009"}, page="/i/T0001")
    assert gone.status_code == 409 and "它已不再出借" in gone.text


def test_a_place_given_by_a_request_a_moment_ago_is_already_queued_not_an_error(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A double tap: both requests read the line before either wrote. The second's insert
    meets the unique index on places, and says "already in the line"."""
    li = signed_in_phone(browser, sessions, clock, LI)
    assert li.post("/me/waiting", {"tag": "T0001"}, page="/i/T0001").status_code == 303
    read_before = staff_snapshots.of_item

    def stale(*args: Any, **kwargs: Any) -> Snapshot | None:
        snapshot = read_before(*args, **kwargs)
        return None if snapshot is None else replace(snapshot, queue=())

    monkeypatch.setattr(staff_snapshots, "of_item", stale)
    second = li.post("/me/waiting", {"tag": "T0001"}, page="/i/T0001")
    assert second.status_code == 409 and "您已经在排队了" in second.text
    with sessions() as db:
        assert len(db.scalars(select(Reservation)).all()) == 1
    assert (
        "state IN ({})".format(", ".join(f"'{state.value}'" for state in ACTIVE_RESERVATION))
        == ACTIVE_RESERVATION_SQL
    )


def test_too_many_places_is_refused(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    for tag in ("T0002", "T0005", "T0006", "T0007", "T0008"):  # 张阿姨 borrows five more
        hut.scan(tag, ZHANG)
    li = signed_in_phone(browser, sessions, clock, LI)
    for tag in ("T0001", "T0002", "T0005", "T0006", "T0007"):
        assert li.post("/me/waiting", {"tag": tag}, page="/me").status_code == 303, tag
    sixth = li.post("/me/waiting", {"tag": "T0008"}, page="/me")
    assert sixth.status_code == 409 and "您排队的物品已达上限" in sixth.text


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


def test_a_return_holds_the_item_for_the_resident_and_the_message_links_to_me(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    receiver: WebhookReceiver,
) -> None:
    li = signed_in_phone(browser, sessions, clock, LI)
    assert li.post("/me/waiting", {"tag": "T0001"}, page="/i/T0001").status_code == 303
    with sessions.begin() as db:
        reminder_queries.set_contact(
            db, member_id=member_of(sessions, LI), channel="sms", address="13900000000"
        )
    clock.advance(timedelta(hours=30))
    hut.scan("T0001", ZHANG)  # 张阿姨 brings the drill back: held for 李师傅
    page = li.get("/me")
    assert "已为您保留：电钻" in page.text
    hold_ends = (T0 + timedelta(hours=30 + 24)).astimezone(_SHANGHAI)
    assert f"保留到 {hold_ends:%m}月{hold_ends:%d}日 {hold_ends:%H:%M}" in page.text
    assert "已为您保留" in li.get("/i/T0001").text
    assert "已为您保留" not in browser().get("/i/T0001").text  # a neighbour's, to anyone else
    settings = ReminderSettings(
        channels={"sms": f"{receiver.apprise_base}/sms?:to={{address}}"},
        stock_alerts=False,
        my_page_url=MY_PAGE,
    )
    report = build_service(settings, sessions=sessions).sweep_once(clock())
    assert report.sent >= 1
    sent = {post["title"]: post["message"] for where, post in receiver.posts if "/sms" in where}
    ready = sent["工具屋：您预约的物品可以领取了"]
    assert (
        "电钻（幸福里社区工具屋）" in ready
        and f"{hold_ends:%m}月{hold_ends:%d}日 {hold_ends:%H:%M}" in ready
    )
    # Every message to him ends with the link: the ready notice and his ladder's reminder.
    assert len(sent) == 2
    assert all(m.rstrip().endswith(f"查看借用、续借和排队：{MY_PAGE}") for m in sent.values())


def test_the_server_s_messages_link_to_its_own_me_page() -> None:
    settings = ServerSettings(public_base_url="https://huts.example.org/")
    assert settings.reminders.my_page_url == MY_PAGE
    told = ServerSettings(reminders=ReminderSettings(my_page_url="https://elsewhere.example/me"))
    assert told.reminders.my_page_url == "https://elsewhere.example/me"


def test_nobody_else_s_loans_and_bad_loan_fields_are_clear_errors(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)
    ladder = open_loan_id(sessions, "T0003")  # 李师傅's
    for path in ("/me", "/me/history"):
        text = zhang.get(path).text
        assert "梯子" not in text and "李师傅" not in text and "5-502" not in text, path
    theirs = zhang.post("/me/renew", {"loan": str(ladder)}, page="/me")
    assert (
        theirs.status_code == 404 and "这不是您的借用" in theirs.text and "梯子" not in theirs.text
    )
    for bad in ("abc", "", "-1", "9" * 30):
        response = zhang.post("/me/renew", {"loan": bad}, page="/me")
        assert response.status_code == 422 and "这不是借用编号" in response.text, bad
    missing = zhang.post("/me/renew", {}, page="/me")
    assert missing.status_code == 422
    assert zhang.post("/me/renew", {"loan": "999999"}, page="/me").status_code == 404
    with sessions() as db:
        loan = db.get(Loan, ladder)
        assert loan is not None and loan.renewals == 0
    # Signed out, the pages go to the sign-in page, and no renewal is written.
    stranger = browser()
    out = stranger.post("/me/renew", {"loan": str(ladder)}, page="/me/sign-in")
    assert out.status_code == 303 and out.headers["location"].startswith("/me/sign-in")


def test_history_is_the_member_s_returns_last_first_a_page_at_a_time(
    browser: Callable[[], Console],
    hut: DemoHut,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resident_loans, "HISTORY_PER_PAGE", 2)
    for tag in ("T0001", "T0005", "T0007"):  # the drill back, then two more out and back
        clock.advance(timedelta(hours=1))
        hut.scan(tag, ZHANG)
        if tag != "T0001":
            clock.advance(timedelta(hours=1))
            hut.scan(tag, ZHANG)
    hut.scan("T0003", LI)  # his ladder back: his history, not hers
    zhang = signed_in_phone(browser, sessions, clock, ZHANG)
    first = zhang.get("/me/history")
    assert first.status_code == 200
    assert first.text.index("螺丝刀套装") < first.text.index("哑铃")  # last returned first
    assert "电钻" not in first.text and "梯子" not in first.text
    assert "/me/history?offset=2" in first.text and "1–2" in first.text
    second = zhang.get("/me/history?offset=2")
    assert "电钻" in second.text and "螺丝刀套装" not in second.text
    assert 'id="loan-' in second.text  # each row names its loan, for what it may carry
    bad = zhang.get("/me/history?offset=x")
    assert bad.status_code == 422 and "螺丝刀套装" in bad.text
