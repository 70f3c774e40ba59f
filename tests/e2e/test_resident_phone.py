"""A resident on their own phone, through every real process (``toolhut server``,
``toolhut emulator`` on a pty, ``toolhut gateway``, Mosquitto) and a real HTTP client:
they tap their card, borrow the drill, scan the hut's phone sign-in card, read the code on
the display (the emulator prints what the display shows), type it on the server's
/me/sign-in page and see their own loan there, nobody else's. No log line of the server or
the gateway shows the code.

The journey is one test so later steps (renewing from the phone, a waiting list) extend it
where the phone is signed in: see ``test_a_resident_signs_in_by_the_hut_code_and_sees_their_loan``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.domain.labels import SIGN_IN_CARD
from tests.support.console import csrf_of
from tests.support.hut_stack import ZHANG, HutStack, hut_stack

pytestmark = pytest.mark.e2e

DRILL = "T0001"  # 电钻, seeded by `toolhut server seed`
FEEDBACK = r'^recv feedback beep=(\w+) text="(.*)"'


@pytest.fixture
def stack(tmp_path: Path, topic_prefix: str) -> Iterator[HutStack]:
    with hut_stack(tmp_path, topic_prefix) as running:
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


def test_a_resident_signs_in_by_the_hut_code_and_sees_their_loan(stack: HutStack) -> None:
    emulator, server, gateway = stack.emulator, stack.server, stack.gateway
    assert emulator is not None and server is not None and gateway is not None
    # 张阿姨 borrows the drill.
    emulator.send(f"card {ZHANG}")
    emulator.expect(r"^recv unlock")
    emulator.expect(r"^recv feedback beep=ok")  # the welcome
    emulator.send("door open")
    emulator.send(f"scan {DRILL}")
    borrowed = emulator.expect(FEEDBACK)
    assert borrowed.group(1) == "ok" and "借" in borrowed.group(2), borrowed.group(0)
    emulator.send("door close")

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

    # (Renewing the drill and joining a waiting list from this phone go here.)

    # No log line of the server or the gateway shows the code (the display does).
    digits = code.replace(" ", "")
    for proc in (server, gateway):
        assert not [line for line in proc.lines if digits in line or code in line], proc.lines
    phone.close()
    other.close()


def test_without_a_card_tap_the_sign_in_card_says_tap_first(stack: HutStack) -> None:
    emulator = stack.emulator
    assert emulator is not None
    emulator.send(f"scan {SIGN_IN_CARD}")
    refused = emulator.expect(FEEDBACK)
    assert refused.group(1) == "error" and refused.group(2) == "请先刷卡", refused.group(0)
