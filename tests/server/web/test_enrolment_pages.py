"""Enrol by tap from the console, with a hut link that takes the command: the member's
page starts it, the request's page shows it waiting with the time left (and its JSON for
enrol.js: the card's last digits only), then bound, expired or cancelled; a cancel of a
request that is over shows the 409's text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.settings import ServerSettings
from server.storage.models import EnrolmentRequest, Hut, Member
from tests.server.conftest import MovableClock
from tests.support.console import Console


@pytest.fixture
def sent() -> list[Any]:
    return []


@pytest.fixture
def app(engine: object, clock: MovableClock, sent: list[Any]) -> FastAPI:
    """The console's app with a hut link that takes every command (no broker needed)."""
    return create_app(ServerSettings(), clock=clock, engine=engine, commands=sent.append)  # type: ignore[arg-type]


def _member(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as db:
        db.add(Hut(id="hut-a", name="东门工具屋"))
        member = Member(name="赵先生", building_unit="5-302")
        db.add(member)
        db.flush()
        return member.id


def _start(staff: Console, member_id: int) -> str:
    staff.get(f"/console/members/{member_id}")
    started = staff.post(f"/console/members/{member_id}/enrol", {"hut": "hut-a"})
    assert started.status_code == 303, started.text
    return str(started.headers["location"])


def test_the_request_page_waits_then_shows_the_card_bound(
    signed_in: Callable[[Role], Console],
    sessions: sessionmaker[Session],
    sent: list[Any],
    clock: MovableClock,
) -> None:
    member_id = _member(sessions)
    staff = signed_in(Role.STAFF)
    path = _start(staff, member_id)
    assert len(sent) == 1
    page = staff.get(path)
    assert "等待中" in page.text and "还剩 60 秒" in page.text
    assert "enrol.js" in page.text and "刷新" in page.text
    clock.advance(timedelta(seconds=15))
    state = staff.get(f"{path}/state").json()
    assert state["state"] == "waiting" and state["seconds_left"] == 45 and not state["done"]
    with sessions.begin() as db:
        row = db.get(EnrolmentRequest, int(path.rsplit("/", 1)[1]))
        assert row is not None
        row.state, row.card_uid = "bound", "0E0E0E0E"
    state = staff.get(f"{path}/state").json()
    assert state["done"] and state["state"] == "bound" and state["card_tail"] == "0E0E"
    assert "0E0E0E0E" not in str(state) and "赵先生" in state["text"]
    assert "0E0E0E0E" not in staff.get(path).text


def test_a_request_expires_and_one_cancelled_cannot_be_cancelled_again(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    member_id = _member(sessions)
    staff = signed_in(Role.STAFF)
    path = _start(staff, member_id)
    staff.get(path)
    assert staff.post(f"{path}/cancel").status_code == 303
    assert "已取消" in staff.get(path).text
    again = staff.post(f"{path}/cancel")
    assert again.status_code == 409 and "此登记请求已结束" in again.text
    later = _start(staff, member_id)
    clock.advance(timedelta(minutes=2))
    assert staff.get(f"{later}/state").json()["state"] == "expired"
    assert staff.get("/console/enrolments/abc").status_code == 404


def test_a_viewer_reads_the_request_but_may_not_start_or_cancel_one(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    member_id = _member(sessions)
    path = _start(signed_in(Role.STAFF), member_id)
    viewer = signed_in(Role.VIEWER)
    page = viewer.get(path)
    assert page.status_code == 200 and "取消登记" not in page.text
    assert viewer.post(f"{path}/cancel").status_code == 403
    assert viewer.post(f"/console/members/{member_id}/enrol", {"hut": "hut-a"}).status_code == 403
    assert viewer.get(f"{path}/state").json()["state"] == "waiting"
