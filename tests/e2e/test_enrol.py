"""Enrol at the hut in one step, through every real process (``toolhut server``, ``toolhut
emulator`` on a pty, ``toolhut gateway``, Mosquitto): staff put the hut into enrol mode for
a new member, a new card tapped there is bound to them and then opens the door; suspended,
the member's card is refused at the hut within 2 s of the suspension's answer."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from hut_gateway.gateway import TEXT_ENROL_READY, TEXT_ENROLLED, TEXT_SUSPENDED, TEXT_WELCOME
from server.domain.roles import Role
from server.storage import make_engine, make_sessionmaker
from server.storage.models import Member
from tests.e2e.test_access import PROMPT_S, reaches_the_hut, running_hut, state, tap
from tests.support.hut_stack import HUT, HutStack
from tests.support.processes import http_json, poll_until
from tests.support.staff_auth import staff_headers
from toolhut.contract import CardState

pytestmark = pytest.mark.e2e

NEW_CARD = "0E0E0E0E"
BIND_TIMEOUT = 20.0


class Staff:
    """A staff member's API token on the stack's database, and the new member's id."""

    headers: dict[str, str]
    member_id: int

    def prepare(self, stack: HutStack) -> None:
        engine = make_engine(stack.db_url)
        try:
            self.headers = staff_headers(make_sessionmaker(engine), Role.STAFF)
            # No members API on this branch yet: the new resident goes in directly.
            with Session(engine) as db, db.begin():
                member = Member(name="赵先生", building_unit="5-302")
                db.add(member)
                db.flush()
                self.member_id = member.id
        finally:
            engine.dispose()

    def call(self, stack: HutStack, path: str, *, method: str = "GET", body: Any = None) -> Any:
        return http_json(f"{stack.base}{path}", headers=self.headers, method=method, body=body)


def test_a_card_enrolled_at_the_hut_opens_the_door_and_is_refused_within_2s_once_suspended(
    tmp_path: Path, topic_prefix: str
) -> None:
    staff = Staff()
    with running_hut(tmp_path, topic_prefix, prepare=staff.prepare) as (stack, lists):
        emulator = stack.emulator
        assert emulator is not None
        request = staff.call(
            stack, f"/api/v1/huts/{HUT}/enrol", method="POST",
            body={"member_id": staff.member_id, "seconds": 120},
        )  # fmt: skip
        assert request["state"] == "waiting"
        # The gateway is in enrol mode once it shows the prompt: then the card is tapped.
        emulator.expect(rf'^recv feedback beep=\w+ text="{re.escape(TEXT_ENROL_READY)}"')
        assert tap(stack, NEW_CARD) == ("ok", TEXT_ENROLLED, False)

        def bound() -> bool:
            read = staff.call(stack, f"/api/v1/enrolments/{request['id']}")
            return bool(read["state"] == "bound" and read["card_uid"] == NEW_CARD)

        poll_until(bound, timeout=BIND_TIMEOUT, what="the enrolment request bound")
        reaches_the_hut(stack, lists, state(NEW_CARD, CardState.ACTIVE), since=0.0)
        assert tap(stack, NEW_CARD) == ("ok", TEXT_WELCOME, True)

        # The member's API is the auth work's: the stack's own staff call suspends.
        stack.staff(f"/api/v1/members/{staff.member_id}/suspend", method="POST")
        answered = time.monotonic()
        refused_at = None
        while refused_at is None and time.monotonic() - answered <= PROMPT_S:
            if tap(stack, NEW_CARD)[:2] == ("error", TEXT_SUSPENDED):
                refused_at = time.monotonic()
        assert refused_at is not None, f"the card still opened the door {PROMPT_S} s later"
        assert refused_at - answered <= PROMPT_S
