"""A sign-in code by message, on SQLite and PostgreSQL, through a real Apprise channel to
a real HTTP receiver: the resident types their phone number (as they write it), the member
with that number gets a code and a link on their own channel in their language, the page
says the same whether anybody matched, asking is throttled per number and per address,
and no log line names the number or the member."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.reminders.config import ReminderSettings
from server.reminders.targets import Recipients
from server.residents import by_message
from server.residents.config import ResidentSettings
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import reminder_queries as rq
from server.storage.models import Card, Member
from server.storage.reminder_models import ReminderDelivery, ReminderMessage
from server.storage.resident_models import ResidentCode
from tests.server.conftest import MovableClock
from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.support.console import Console

BASE = "https://tools.example.org"
ZHANG_PHONE = "13800138000"
LI_PHONE = "13900139000"  # 李师傅 has a phone but no contact on a channel of his own


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def app(engine: object, clock: MovableClock, receiver: WebhookReceiver) -> FastAPI:
    channels = {
        "sms": f"{receiver.apprise_base}/sms?:to={{address}}",
        "group": f"{receiver.apprise_base}/group",  # a group bot: never a code there
    }
    settings = ServerSettings(
        public_base_url=BASE, reminders=ReminderSettings(channels=channels, enabled=False)
    )
    return create_app(settings, clock=clock, engine=engine)  # type: ignore[arg-type]


@pytest.fixture
def members(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as db:
        seed_demo(db)
        by_card = {uid: member for uid, member in db.execute(select(Card.uid, Card.member_id))}
        zhang, li = by_card["04A1B2C3"], by_card["04D5E6F7"]
        for member_id, phone in ((zhang, ZHANG_PHONE), (li, LI_PHONE)):
            member = db.get(Member, member_id)
            assert member is not None
            member.phone = phone
        rq.set_contact(db, member_id=zhang, channel="sms", address="+8613800138000")
    return {"zhang": zhang, "li": li}


def _ask(phone: Console, number: str) -> object:
    return phone.post("/me/sign-in/message", {"phone": number}, page="/me/sign-in")


def _answer(text: str) -> str:
    found = re.search(r'role="status"><p>(.*?)</p>', text, re.S)
    assert found is not None, text
    return found.group(1)


def test_a_registered_number_gets_a_code_and_link_that_sign_its_phone_in(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # what the server logs (Apprise debugs its payloads)
    phone = browser()
    page = phone.get("/me/sign-in")
    assert "短信" in page.text and 'name="phone"' in page.text
    matched = _ask(phone, "+86 138-0013 8000")  # as people write it
    assert matched.status_code == 200  # type: ignore[attr-defined]
    again = _ask(browser(), "１３８ ００１３ ８０００")  # a Chinese keyboard's digits
    unmatched = _ask(browser(), "139 0000 0000")
    no_channel = _ask(browser(), LI_PHONE)  # a member, but nothing reaches him alone
    answers = {_answer(r.text) for r in (matched, again, unmatched, no_channel)}  # type: ignore[attr-defined]
    assert len(answers) == 1 and "如果" in answers.pop()

    # Delivered at once, on her own channel only (each ask its own code).
    assert [path for path, _post in receiver.posts] == ["/sms", "/sms"]
    post = receiver.posts[0][1]
    assert post["to"] == "+8613800138000"
    body = post["message"]
    code = re.search(r"\b(\d{4} \d{4})\b", body)
    link = re.search(rf"{re.escape(BASE)}/me/link/(thl_[\w-]+)", body)
    assert code is not None and link is not None, body
    assert "张阿姨" in body and "登录" in post["title"]
    with sessions() as db:
        rows = db.scalars(select(ResidentCode)).all()
        assert {(row.member_id, row.via) for row in rows} == {(members["zhang"], "channel")}
        assert all(code.group(1).replace(" ", "") not in row.code_hash for row in rows)
        messages = db.scalars(select(ReminderMessage)).all()
        assert [m.payload for m in messages] == [[], []]  # sent: code and link kept nowhere
        deliveries = db.scalars(select(ReminderDelivery)).all()
        assert {(d.channel, d.status) for d in deliveries} == {("sms", "sent")}

    by_link = browser()
    answer = by_link.post("/me/link", {"secret": link.group(1)}, page="/me/sign-in")
    assert answer.status_code == 303
    assert "张阿姨" in by_link.get("/me").text
    # The code and its link are one: used once, by either.
    assert _sign_in(browser(), code.group(1)).status_code == 422  # type: ignore[attr-defined]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (ZHANG_PHONE, "0013", LI_PHONE, "张阿姨", code.group(1), link.group(1)):
        assert secret not in logged
    assert f"member {members['zhang']}" not in logged


def _sign_in(phone: Console, code: str) -> object:
    return phone.post("/me/sign-in", {"code": code, "next": "/me"}, page="/me/sign-in")


def test_an_english_member_hears_in_english(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    receiver: WebhookReceiver,
) -> None:
    with sessions.begin() as db:
        member = db.get(Member, members["zhang"])
        assert member is not None
        member.language = "en"
    assert _ask(browser(), ZHANG_PHONE).status_code == 200  # type: ignore[attr-defined]
    [(_path, post)] = receiver.posts
    assert "sign-in code" in post["title"] and "/me/link/thl_" in post["message"]


def test_asking_is_throttled_per_number_and_per_address_alike(
    browser: Callable[[], Console],
    members: dict[str, int],
    receiver: WebhookReceiver,
    clock: MovableClock,
) -> None:
    for number in (ZHANG_PHONE, "13700137000"):  # registered or not: the same
        for _ in range(3):
            assert _ask(browser(), number).status_code == 200  # type: ignore[attr-defined]
        refused = _ask(browser(), number)
        assert refused.status_code == 429  # type: ignore[attr-defined]
        assert "分钟" in refused.text  # type: ignore[attr-defined]
    assert len(receiver.posts) == 3
    clock.advance(timedelta(hours=1, seconds=1))
    assert _ask(browser(), ZHANG_PHONE).status_code == 200  # type: ignore[attr-defined]
    assert len(receiver.posts) == 4
    # One address asking for many numbers is held back too (every browser here is one).
    statuses = [_ask(browser(), f"1360013{n:04d}").status_code for n in range(10)]  # type: ignore[attr-defined]
    assert 429 in statuses


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "请输入"),
        ("   ", "请输入"),
        ("call me maybe", "5到20"),
        ("1" * 200, "5到20"),
        ("12", "5到20"),
    ],
)
def test_bad_numbers_get_a_field_error_and_send_nothing(
    browser: Callable[[], Console],
    members: dict[str, int],
    receiver: WebhookReceiver,
    typed: str,
    says: str,
) -> None:
    answer = _ask(browser(), typed)
    assert answer.status_code == 422  # type: ignore[attr-defined]
    assert 'aria-invalid="true"' in answer.text and says in answer.text  # type: ignore[attr-defined]
    assert receiver.posts == []


def test_a_code_asked_for_at_night_goes_out_at_once(
    browser: Callable[[], Console],
    members: dict[str, int],
    receiver: WebhookReceiver,
    clock: MovableClock,
) -> None:
    """Quiet hours hold reminders till the morning, not a code the resident waits for."""
    clock.advance(timedelta(hours=13))  # 23:00 in Shanghai
    assert _ask(browser(), ZHANG_PHONE).status_code == 200  # type: ignore[attr-defined]
    assert len(receiver.posts) == 1


def test_at_most_three_codes_a_member_an_hour_whatever_the_process(
    app: FastAPI, members: dict[str, int], sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    """Counted in the database: another server process's in-memory throttle knows nothing
    of this one's asks."""
    service = app.state.reminders
    recipients = Recipients(service.channels, "zh")
    settings = ResidentSettings()

    def ask() -> list[int]:
        with sessions.begin() as db:
            return by_message.send_codes(
                db, ZHANG_PHONE, now=clock(), settings=settings, recipients=recipients,
                base_url=BASE,
            )  # fmt: skip

    sent = [ask() for _ in range(by_message.MESSAGES_PER_HOUR + 1)]
    assert [len(ids) for ids in sent] == [1] * by_message.MESSAGES_PER_HOUR + [0]
    clock.advance(timedelta(hours=1, seconds=1))
    assert len(ask()) == 1
    with sessions() as db:
        deliveries = db.scalars(select(ReminderDelivery)).all()
        assert {(d.channel, d.address) for d in deliveries} == {("sms", "+8613800138000")}
