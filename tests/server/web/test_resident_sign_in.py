"""A resident's phone signed in by a one-time code, on SQLite and PostgreSQL: the code
opens a weeks-long session once, wrong codes are throttled per address, a link from a
message asks before it signs in, and a session shows that member's loans and nobody
else's; leaving or signing out ends it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.ledger import apply_event
from server.residents import codes
from server.residents.codes import Via
from server.residents.config import ResidentSettings
from server.seed import seed_demo
from server.storage.models import Card, Hut, Member
from server.storage.resident_models import ResidentCode
from tests.server.conftest import T0, MovableClock
from tests.server.factories import scan
from tests.support.console import Console

SETTINGS = ResidentSettings()


@pytest.fixture
def members(sessions: sessionmaker[Session]) -> dict[str, int]:
    """The demo hut; 张阿姨 (card 04A1B2C3) has the drill, 李师傅 (04D5E6F7) the ladder."""
    with sessions.begin() as db:
        seed_demo(db)
        hut = db.get(Hut, "demo-hut")
        apply_event(db, scan("demo-hut", 1, "T0001"), hut=hut, received_at=T0)
        apply_event(db, scan("demo-hut", 2, "T0003", card="04D5E6F7"), hut=hut, received_at=T0)
        by_card = {uid: member for uid, member in db.execute(select(Card.uid, Card.member_id))}
    return {"zhang": by_card["04A1B2C3"], "li": by_card["04D5E6F7"]}


def _code(
    sessions: sessionmaker[Session], member_id: int, clock: MovableClock, **kw: object
) -> codes.IssuedCode:
    with sessions.begin() as db:
        return codes.issue(
            db,
            member_id=member_id,
            via=kw.pop("via", Via.HUT),
            now=clock(),
            settings=SETTINGS,
            **kw,  # type: ignore[arg-type]
        )


def _sign_in(phone: Console, code: str, next: str = "/me") -> object:
    return phone.post("/me/sign-in", {"code": code, "next": next}, page="/me/sign-in")


def test_a_code_from_the_hut_signs_the_phone_in_to_its_own_loans_only(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    phone = browser()
    first = phone.get("/me", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/me/sign-in?next=/me"
    page = phone.get("/me/sign-in")
    assert page.status_code == 200 and "登录码" in page.text
    issued = _code(sessions, members["zhang"], clock)
    typed = codes.shown(issued.code).replace("1", "１")  # spaced, full-width digits: still it
    response = _sign_in(phone, typed)
    assert response.status_code == 303 and response.headers["location"] == "/me"
    cookie = response.headers["set-cookie"]
    assert (
        "toolhut_resident=thr_" in cookie
        and "HttpOnly" in cookie
        and "samesite=lax" in cookie.lower()
    )
    mine = phone.get("/me")
    assert mine.status_code == 200
    assert "张阿姨" in mine.text and "电钻" in mine.text  # her own name and her drill
    assert "李师傅" not in mine.text and "梯" not in mine.text  # never his
    # Weeks later the phone is still signed in (used now and then).
    for _ in range(4):
        clock.advance(timedelta(days=14))
        assert phone.get("/me").status_code == 200
    # The code worked once: another phone typing it gets nothing.
    other = browser()
    again = _sign_in(other, issued.code)
    assert again.status_code == 422 and "toolhut_resident" not in again.headers.get(
        "set-cookie", ""
    )


def test_wrong_expired_and_malformed_codes_are_refused_then_throttled(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    phone = browser()
    assert _sign_in(phone, "12ab").status_code == 422  # not a code's shape: not counted
    expired = _code(sessions, members["zhang"], clock)
    clock.advance(timedelta(minutes=SETTINGS.code_minutes, seconds=1))
    refused = _sign_in(phone, expired.code)
    assert refused.status_code == 422 and "过期" in refused.text
    for _ in range(SETTINGS.code_attempts - 1):
        assert _sign_in(phone, "00000000").status_code == 422
    live = _code(sessions, members["zhang"], clock)
    throttled = _sign_in(phone, live.code)  # even the right code waits now
    assert throttled.status_code == 429
    clock.advance(timedelta(minutes=10, seconds=1))  # the throttle's window, and the code's life
    assert _sign_in(phone, live.code).status_code == 422
    assert _sign_in(phone, _code(sessions, members["zhang"], clock).code).status_code == 303


def test_a_link_from_a_message_asks_first_and_works_once(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    issued = _code(sessions, members["li"], clock, via=Via.CHANNEL)
    assert issued.link is not None
    phone = browser()
    preview = phone.get(f"/me/link/{issued.link}")  # what a messaging app's preview fetches
    assert preview.status_code == 200 and "toolhut_resident" not in preview.headers.get(
        "set-cookie", ""
    )
    signed = phone.post("/me/link", {"secret": issued.link})
    assert signed.status_code == 303
    assert "梯" in phone.get("/me").text
    reused = browser().post("/me/link", {"secret": issued.link}, page=f"/me/link/{issued.link}")
    assert reused.status_code == 410
    with sessions() as db:
        row = db.scalar(select(ResidentCode).where(ResidentCode.member_id == members["li"]))
        assert row is not None and row.used_at is not None
        assert issued.code not in (row.code_hash, row.link_hash)  # only hashes are kept


def test_signing_out_and_leaving_end_the_phone_session(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    phone = browser()
    assert _sign_in(phone, _code(sessions, members["zhang"], clock).code).status_code == 303
    out = phone.post("/me/sign-out", {}, page="/me")
    assert out.status_code == 303
    assert phone.get("/me", follow_redirects=False).status_code == 303
    # 李师傅 signs in, returns the ladder and moves away: his phone is signed out with him.
    second = browser()
    assert _sign_in(second, _code(sessions, members["li"], clock).code).status_code == 303
    from server.domain.actors import SYSTEM
    from server.records import members as member_records
    from server.storage.audit import Stamp

    with sessions.begin() as db:
        hut = db.get(Hut, "demo-hut")
        apply_event(db, scan("demo-hut", 3, "T0003", card="04D5E6F7"), hut=hut, received_at=clock())
    with sessions.begin() as db:
        member_records.leave(db, members["li"], reason=None, stamp=Stamp(SYSTEM, clock()))
        assert db.get(Member, members["li"]).status == "left"  # type: ignore[union-attr]
    assert second.get("/me", follow_redirects=False).status_code == 303


def test_a_form_without_its_token_is_refused(
    browser: Callable[[], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    phone = browser()
    issued = _code(sessions, members["zhang"], clock)
    response = phone.client.post("/me/sign-in", data={"code": issued.code}, follow_redirects=False)
    assert response.status_code == 403
    assert _sign_in(phone, issued.code).status_code == 303  # not used up by the refused form
