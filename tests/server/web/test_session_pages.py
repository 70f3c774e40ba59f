"""The console's sign-in, sign-out, password and language pages, as a browser posts them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from tests.support.console import Console
from tests.support.staff_auth import new_user


def test_a_page_of_the_console_sends_a_stranger_to_sign_in_and_back(
    browser: Callable[[], Console], sessions: sessionmaker[Session]
) -> None:
    console = browser()
    response = console.client.get("/console/password", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console/password"
    with sessions.begin() as db:
        username = new_user(db, Role.VIEWER).username
    page = console.get("/console/sign-in?next=/console/password")
    assert 'lang="zh-CN"' in page.text and "登录" in page.text
    answer = console.post(
        "/console/sign-in",
        {"username": username, "password": "Correct-Horse-7-Battery", "next": "/console/password"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/password"


def test_a_wrong_password_is_named_on_the_form_and_the_username_kept(
    browser: Callable[[], Console], sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as db:
        username = new_user(db, Role.STAFF).username
    console = browser()
    answer = console.sign_in(username, "not-the-password")
    assert answer.status_code == 401
    assert "用户名或密码不正确" in answer.text
    assert f'value="{username}"' in answer.text


def test_a_form_without_its_token_is_refused_and_nothing_signs_in(
    browser: Callable[[], Console], sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as db:
        username = new_user(db, Role.STAFF).username
    console = browser()
    answer = console.client.post(
        "/console/sign-in",
        data={"username": username, "password": "Correct-Horse-7-Battery"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "toolhut_session" not in answer.cookies
    assert "Traceback" not in answer.text


def test_a_first_password_must_be_changed_before_anything_else(
    browser: Callable[[], Console], sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as db:
        username = new_user(db, Role.STAFF, must_change_password=True).username
    console = browser()
    answer = console.sign_in(username)
    assert answer.headers["location"] == "/console/password"
    console.get("/console/password")
    mismatch = console.post(
        "/console/password",
        {"current": "Correct-Horse-7-Battery", "new": "A-New-Passw0rd-11", "again": "other"},
    )
    assert mismatch.status_code == 422 and "两次输入的新密码不一致" in mismatch.text
    done = console.post(
        "/console/password",
        {
            "current": "Correct-Horse-7-Battery",
            "new": "A-New-Passw0rd-11",
            "again": "A-New-Passw0rd-11",
        },
    )
    assert done.status_code == 200 and "密码已修改" in done.text


def test_the_language_link_switches_the_pages_to_english(
    signed_in: Callable[[Role], Console],
) -> None:
    console = signed_in(Role.ADMIN)
    switched = console.client.get(
        "/console/language?to=en&next=/console/password", follow_redirects=False
    )
    assert switched.headers["location"] == "/console/password"
    page = console.get("/console/password")
    assert 'lang="en"' in page.text and "Change password" in page.text
    assert "中文" in page.text  # the way back, in its own language


def test_sign_out_ends_the_session(signed_in: Callable[[Role], Console]) -> None:
    console = signed_in(Role.STAFF)
    console.get("/console/password")
    out = console.post("/console/sign-out")
    assert out.status_code == 303
    again = console.client.get("/console/password", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/console/sign-in")


def test_an_offsite_next_is_not_followed(
    browser: Callable[[], Console], sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as db:
        username = new_user(db, Role.STAFF).username
    console = browser()
    console.get("/console/sign-in")
    answer = console.post(
        "/console/sign-in",
        {"username": username, "password": "Correct-Horse-7-Battery", "next": "//evil.example/"},
    )
    assert answer.headers["location"] == "/console"
