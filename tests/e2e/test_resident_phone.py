"""A resident on their own phone, through every real process (``toolhut server``,
``toolhut emulator`` on a pty, ``toolhut gateway``, Mosquitto) and a real HTTP client:
they tap their card, borrow the drill, scan the hut's phone sign-in card, read the code on
the display (the emulator prints what the display shows), type it on the server's
/me/sign-in page and see their own loan there, nobody else's. From the phone they renew
the drill and join the waiting list of the impact drill another member has; once a
neighbour waits for the drill, its renewal is refused with the reason; when the impact
drill comes back at the hut it is kept for them, /me says so, the hold notice reaches
the members' reminder channel (a real webhook receiver) and their next card tap shows it
on the hut's display. No log line of the server or the gateway shows a code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from server.domain.labels import SIGN_IN_CARD
from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.support.console import csrf_of
from tests.support.hut_stack import FEEDBACK, LI, ZHANG, HutStack, hut_stack, visit
from tests.support.processes import poll_until

pytestmark = pytest.mark.e2e

DRILL = "T0001"  # 电钻, seeded by `toolhut server seed`
IMPACT_DRILL = "T0002"  # 冲击钻
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the seeded hut's time zone
NOTICE_WITHIN_S = 30.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str, receiver: WebhookReceiver) -> Iterator[HutStack]:
    # The members' reminder channel is a webhook (a shared one: no {address}); sweeps every
    # half second and no quiet hours, so a notice is sent within seconds at any hour.
    server_env = {
        "TOOLHUT_SERVER_REMINDERS__CHANNELS": json.dumps(
            {"webhook": f"{receiver.apprise_base}/member"}
        ),
        "TOOLHUT_SERVER_REMINDERS__INTERVAL_S": "0.5",
        "TOOLHUT_SERVER_REMINDERS__QUIET_START": "00:00",
        "TOOLHUT_SERVER_REMINDERS__QUIET_END": "00:00",
        "TOOLHUT_SERVER_REMINDERS__STOCK_ALERTS": "false",
    }
    with hut_stack(tmp_path, topic_prefix, server_env=server_env) as running:
        yield running


def code_from_the_display(stack: HutStack, card: str) -> str:
    """Tap ``card``, scan the sign-in card, and read the code the display shows."""
    emulator = stack.emulator
    assert emulator is not None
    emulator.send(f"card {card}")
    emulator.expect(r"^recv unlock")
    emulator.expect(r"^recv feedback beep=ok")  # the welcome
    emulator.send(f"scan {SIGN_IN_CARD}")
    shown = emulator.expect(r'^recv feedback beep=(\w+) text="(手机登录码.*)"')
    assert shown.group(1) == "ok", shown.group(0)
    found = re.search(r"(\d{4}) (\d{4}) \((\d+)分钟\)", shown.group(2))
    assert found is not None, shown.group(0)
    assert found.group(3) == "10"
    return found.group(1) + " " + found.group(2)


def sign_in_on_a_phone(stack: HutStack, code: str) -> httpx.Client:
    """A phone's browser, signed in with ``code`` on the real server's page."""
    phone = httpx.Client(base_url=stack.base, timeout=10)
    page = phone.get("/me/sign-in")
    assert page.status_code == 200, page.text
    signed = phone.post(
        "/me/sign-in", data={"csrf_token": csrf_of(page.text), "code": code, "next": "/me"}
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/me", signed.text
    assert "toolhut_resident" in phone.cookies
    return phone


def open_loan(stack: HutStack, tag: str) -> dict[str, Any]:
    """The open loan of ``tag`` as staff read it in the ledger (the API)."""
    loans = stack.staff("/api/v1/loans?status=open")["data"]
    return next(loan for loan in loans if loan["tag"] == tag)


def on_the_page(due_at: str) -> str:
    """A due date as /me writes it in Chinese, in the hut's time zone (``11月30日 10:00``)."""
    local = datetime.fromisoformat(due_at).astimezone(SHANGHAI)
    return f"{local:%m}月{local:%d}日 {local:%H:%M}"


def renew_button(page: str, loan_id: int) -> bool:
    return f'name="loan" value="{loan_id}"' in page


def join_the_waiting_list(phone: httpx.Client, tag: str) -> httpx.Response:
    """The join form of the item's public page, pressed."""
    page = phone.get(f"/i/{tag}")
    assert page.status_code == 200 and "排队预约" in page.text, page.text
    return phone.post("/me/waiting", data={"csrf_token": csrf_of(page.text), "tag": tag})


def webhook_bodies(receiver: WebhookReceiver) -> list[str]:
    with receiver.lock:
        return [post["message"] for _, post in receiver.posts]


def test_a_resident_on_the_phone_renews_joins_a_waiting_list_and_is_told_it_is_kept(
    stack: HutStack, receiver: WebhookReceiver
) -> None:
    emulator, server, gateway = stack.emulator, stack.server, stack.gateway
    assert emulator is not None and server is not None and gateway is not None
    # 张阿姨 borrows the drill.
    [(beep, text)] = visit(emulator, ZHANG, DRILL)
    assert beep == "ok" and "借" in text, text

    # Later, at the hut again: her card, then the phone sign-in card.
    code = code_from_the_display(stack, ZHANG)
    phone = sign_in_on_a_phone(stack, code)
    mine = phone.get("/me")
    assert mine.status_code == 200
    assert "张阿姨" in mine.text and "电钻" in mine.text
    assert "李师傅" not in mine.text
    # The code worked once: a second phone typing it is refused.
    other = httpx.Client(base_url=stack.base, timeout=10)
    token = csrf_of(other.get("/me/sign-in").text)
    again = other.post("/me/sign-in", data={"csrf_token": token, "code": code})
    assert again.status_code == 422 and "toolhut_resident" not in other.cookies

    # She renews the drill from /me: the ledger has the later due date, and /me shows it.
    before = open_loan(stack, DRILL)
    assert renew_button(mine.text, before["id"])
    assert f"预计归还：{on_the_page(before['due_at'])}" in mine.text
    renewed = phone.post(
        "/me/renew", data={"csrf_token": csrf_of(mine.text), "loan": str(before["id"])}
    )
    assert renewed.status_code == 303, renewed.text
    assert renewed.headers["location"] == "/me?done=renewed"
    after = open_loan(stack, DRILL)
    assert after["id"] == before["id"]
    assert datetime.fromisoformat(after["due_at"]) > datetime.fromisoformat(before["due_at"])
    mine = phone.get(renewed.headers["location"])
    assert "已续借" in mine.text
    assert f"预计归还：{on_the_page(after['due_at'])}" in mine.text
    assert on_the_page(before["due_at"]) not in mine.text

    # 李师傅 borrows the impact drill; she joins its waiting list from its page.
    [(beep, text)] = visit(emulator, LI, IMPACT_DRILL)
    assert beep == "ok" and "借" in text, text
    joined = join_the_waiting_list(phone, IMPACT_DRILL)
    assert joined.status_code == 303 and joined.headers["location"] == f"/i/{IMPACT_DRILL}"
    assert "您排在第 1 位" in phone.get(f"/i/{IMPACT_DRILL}").text
    mine = phone.get("/me")
    waiting = mine.text[mine.text.index("我的排队") :]
    assert "冲击钻" in waiting and "您排在第 1 位" in waiting, waiting

    # He, on his own phone, joins the drill's waiting list: now she may not renew it, and
    # /me says why instead of offering the button; a press anyway is refused, nothing moves.
    li_code = code_from_the_display(stack, LI)
    li_phone = sign_in_on_a_phone(stack, li_code)
    assert join_the_waiting_list(li_phone, DRILL).status_code == 303
    mine = phone.get("/me")
    waits = "有邻居在排队等它，所以不能续借：请在到期前归还。"
    assert waits in mine.text and not renew_button(mine.text, after["id"])
    refused = phone.post(
        "/me/renew", data={"csrf_token": csrf_of(mine.text), "loan": str(after["id"])}
    )
    assert refused.status_code == 409 and waits in refused.text, refused.text
    assert open_loan(stack, DRILL)["due_at"] == after["due_at"]

    # He brings the impact drill back at the hut: it is kept for her, /me says so, and the
    # hold notice reaches the members' channel, naming the item (a shared channel: her flat,
    # not her name).
    [(beep, text)] = visit(emulator, LI, IMPACT_DRILL)
    assert beep == "ok" and "还" in text, text
    assert stack.item(IMPACT_DRILL)["status"] == "reserved"
    mine = phone.get("/me")
    assert "已为您保留：冲击钻" in mine.text, mine.text
    told = poll_until(
        lambda: [b for b in webhook_bodies(receiver) if "冲击钻" in b],
        timeout=NOTICE_WITHIN_S,
        what="the hold notice of the impact drill at the members' webhook",
    )
    assert len(told) == 1, told
    assert "3-201" in told[0] and "张阿姨" not in told[0] and "李师傅" not in told[0], told
    # And at the hut: her next card tap shows it on the display, after the welcome.
    poll_until(
        lambda: [line for line in stack.display_lines_waiting() if "冲击钻" in line],
        timeout=NOTICE_WITHIN_S,
        what="the hold notice's line for the hut display",
    )
    assert visit(emulator, ZHANG) == []
    shown = emulator.expect(r'^recv feedback beep=ok text="(.*冲击钻.*)"', timeout=20)
    assert shown.group(1) == "您预约的 冲击钻 已可领取", shown.group(0)

    # He rates the impact drill from his phone: /me lists the return he just made with its
    # form; 不满意 with a comment is recorded as his, from the phone, and staff see it.
    li_mine = li_phone.get("/me")
    back = li_mine.text[li_mine.text.index("刚刚归还") :]
    assert "冲击钻" in back and 'action="/me/rating"' in back, back
    [loan_id] = re.findall(r'name="loan" value="(\d+)"', back[: back.index("</form>")])
    rated = li_phone.post(
        "/me/rating",
        data={
            "csrf_token": csrf_of(li_mine.text),
            "loan": loan_id,
            "score": "1",
            "comment": "钻头有点松",
        },
    )
    assert rated.status_code == 303, rated.text
    assert rated.headers["location"] == "/me?done=rated"
    assert "刚刚归还" not in li_phone.get("/me").text  # rated: no longer asked for
    assert "您的评价：不满意" in li_phone.get("/me/history").text
    [rating] = [
        r for r in stack.staff("/api/v1/ratings?limit=100")["data"] if r["loan_id"] == int(loan_id)
    ]
    assert (rating["source"], rating["score"], rating["comment"]) == ("phone", 1, "钻头有点松")

    # No log line of the server or the gateway shows a code (the display does).
    for shown in (code, li_code):
        digits = shown.replace(" ", "")
        for proc in (server, gateway):
            assert not [line for line in proc.lines if digits in line or shown in line]
    for client in (phone, other, li_phone):
        client.close()


def test_without_a_card_tap_the_sign_in_card_says_tap_first(stack: HutStack) -> None:
    emulator = stack.emulator
    assert emulator is not None
    emulator.send(f"scan {SIGN_IN_CARD}")
    refused = emulator.expect(FEEDBACK)
    assert refused.group(1) == "error" and refused.group(2) == "请先刷卡", refused.group(0)
