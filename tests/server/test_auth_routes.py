"""Signing in and out, sessions and their ends, one's own password and tokens, admins'
account management and the audit log, through the HTTP API on SQLite and PostgreSQL.
Time moves on the app's clock; nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.accounts.secrets import secret_hash
from server.api.auth import SESSION_COOKIE
from server.app import create_app
from server.domain.roles import Role
from server.settings import ServerSettings
from server.storage.staff_models import ApiToken, AuditEntry, StaffUser
from tests.support.staff_auth import PASSWORD, new_user, staff_headers

from .conftest import T0, MovableClock

NEW_PASSWORD = "Another-Good-Passw0rd"


@pytest.fixture
def app(engine: object, clock: MovableClock) -> FastAPI:
    return create_app(ServerSettings(), clock=clock, engine=engine)  # type: ignore[arg-type]


@pytest.fixture
def client_at(app: FastAPI) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def at(address: str = "192.0.2.1", *, base_url: str = "http://testserver") -> TestClient:
        client = TestClient(app, client=(address, 40000), base_url=base_url)
        clients.append(client)
        return client

    yield at
    for client in clients:
        client.close()


@pytest.fixture
def client(client_at: Callable[..., TestClient]) -> TestClient:
    return client_at()


def _user(
    sessions: sessionmaker[Session],
    username: str,
    role: Role = Role.STAFF,
    *,
    must_change: bool = False,
) -> int:
    with sessions.begin() as db:
        return new_user(db, role, username=username, must_change_password=must_change).id


def _sign_in(client: TestClient, username: str, password: str = PASSWORD) -> object:
    return client.post("/api/v1/auth/sign-in", json={"username": username, "password": password})


def _set_cookie(response: object) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])  # type: ignore[attr-defined]
    return cookie


def test_sign_in_sets_a_strict_http_only_cookie_and_me_answers(
    client: TestClient, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    user_id = _user(sessions, "wang")
    response = _sign_in(client, "WANG")  # usernames match without case
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == "wang" and body["must_change_password"] is False
    morsel = _set_cookie(response)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "strict" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http, cookie_secure unset
    assert int(morsel["max-age"]) == 12 * 3600
    assert client.get("/api/v1/me").json()["user"]["id"] == user_id
    with sessions() as db:
        user = db.get(StaffUser, user_id)
        assert user is not None and user.last_sign_in_at == clock.now
    # The session reads staff data like a token does.
    assert client.get("/api/v1/sessions").status_code == 200

    assert client.post("/api/v1/auth/sign-out").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_the_cookie_is_secure_behind_https_or_when_set(
    client_at: Callable[..., TestClient], sessions: sessionmaker[Session], engine: object
) -> None:
    _user(sessions, "li")
    https = client_at(base_url="https://testserver")
    assert _set_cookie(_sign_in(https, "li"))[SESSION_COOKIE]["secure"]
    settings = ServerSettings(accounts={"cookie_secure": True})  # type: ignore[arg-type]
    forced = TestClient(create_app(settings, engine=engine))  # type: ignore[arg-type]
    assert _set_cookie(_sign_in(forced, "li"))[SESSION_COOKIE]["secure"]


@pytest.mark.parametrize("case", ["wrong", "unknown", "disabled"])
def test_every_wrong_sign_in_is_the_same_401(
    client: TestClient, sessions: sessionmaker[Session], case: str
) -> None:
    user_id = _user(sessions, "zhao")
    if case == "disabled":
        with sessions.begin() as db:
            user = db.get(StaffUser, user_id)
            assert user is not None
            user.disabled_at = T0
    username = "nobody" if case == "unknown" else "zhao"
    password = "not-the-password" if case == "wrong" else PASSWORD
    response = _sign_in(client, username, password)
    assert response.status_code == 401
    assert response.json() == {"detail": "用户名或密码不正确 / wrong username or password"}
    assert "set-cookie" not in response.headers


def test_an_unknown_name_costs_a_password_check_too(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.accounts import sign_in

    checked: list[str] = []
    real = sign_in.verify_password
    monkeypatch.setattr(sign_in, "verify_password", lambda h, p: checked.append(p) or real(h, p))
    assert _sign_in(client, "nobody", "guess-1").status_code == 401
    assert checked == ["guess-1"]


def test_sign_in_is_throttled_per_account_and_per_address(
    client_at: Callable[..., TestClient], sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    _user(sessions, "sun")
    _user(sessions, "zhou")
    first, second = client_at("203.0.113.7"), client_at("198.51.100.2")
    for _ in range(5):
        assert _sign_in(first, "sun", "wrong-password").status_code == 401
    refused = _sign_in(second, "sun")  # the right password, from elsewhere: the account waits
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    assert _sign_in(second, "zhou").status_code == 200  # other accounts do not

    for n in range(20):  # one address trying many names
        _sign_in(second, f"name-{n}", "wrong-password")
    assert _sign_in(second, "zhou").status_code == 429
    assert _sign_in(client_at("192.0.2.50"), "zhou").status_code == 200

    clock.advance(timedelta(minutes=15))
    assert _sign_in(second, "sun").status_code == 200


def test_sessions_end_when_idle_and_at_their_absolute_end(
    client: TestClient, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    _user(sessions, "wu")
    assert _sign_in(client, "wu").status_code == 200
    clock.advance(timedelta(minutes=119))
    assert client.get("/api/v1/me").status_code == 200  # touched: idle time starts again
    clock.advance(timedelta(minutes=119))
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=121))
    assert client.get("/api/v1/me").status_code == 401  # idle too long

    assert _sign_in(client, "wu").status_code == 200
    for _ in range(12):  # busy all day: still ends 12 hours after sign-in
        clock.advance(timedelta(minutes=59))
        assert client.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=13))
    assert client.get("/api/v1/me").status_code == 401


def test_a_cross_site_post_with_the_cookie_is_refused(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "qian")
    assert _sign_in(client, "qian").status_code == 200
    evil = {"Origin": "https://evil.example"}
    refused = client.post("/api/v1/loans/1/renew", headers=evil)
    assert refused.status_code == 403 and "来源" in refused.json()["detail"]
    assert client.post("/api/v1/auth/sign-out", headers=evil).status_code == 403
    ours = {"Origin": "http://testserver"}
    assert client.post("/api/v1/loans/1/renew", headers=ours).status_code == 404  # past auth
    assert (
        client.post(
            "/api/v1/auth/sign-in", json={"username": "qian", "password": PASSWORD}, headers=evil
        ).status_code
        == 403
    )


def test_a_form_post_signs_in_and_goes_to_next(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "feng")
    form = {"username": "feng", "password": PASSWORD, "next": "/"}
    response = client.post("/api/v1/auth/sign-in", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert SESSION_COOKIE in response.headers["set-cookie"]
    elsewhere = {**form, "next": "//evil.example/"}
    plain = client.post("/api/v1/auth/sign-in", data=elsewhere, follow_redirects=False)
    assert plain.status_code == 200 and plain.json()["user"]["username"] == "feng"
    missing = client.post("/api/v1/auth/sign-in", data={"username": "feng"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]


def test_a_created_account_must_change_its_password_first(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "chen", must_change=True)
    signed_in = _sign_in(client, "chen").json()
    assert signed_in["must_change_password"] is True
    assert client.get("/api/v1/me").status_code == 200
    blocked = client.get("/api/v1/sessions")
    assert blocked.status_code == 403 and "修改初始密码" in blocked.json()["detail"]
    assert client.get("/api/v1/items").status_code == 200  # public, without names
    weak = client.post("/api/v1/me/password", json={"current": PASSWORD, "new": "chen12345"})
    assert weak.status_code == 422
    reasons = [e["msg"] for e in weak.json()["detail"]]
    assert all(e["loc"] == ["body", "new"] for e in weak.json()["detail"])
    assert any("at least 10" in r for r in reasons) and any("username" in r for r in reasons)
    wrong = client.post("/api/v1/me/password", json={"current": "nope", "new": NEW_PASSWORD})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "current"]
    changed = client.post("/api/v1/me/password", json={"current": PASSWORD, "new": NEW_PASSWORD})
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    assert client.get("/api/v1/sessions").status_code == 200  # this session stays
    assert _sign_in(client, "chen", NEW_PASSWORD).status_code == 200


def test_changing_the_password_ends_the_other_sessions(
    client_at: Callable[..., TestClient], sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "han")
    here, there = client_at("192.0.2.10"), client_at("192.0.2.11")
    assert _sign_in(here, "han").status_code == 200
    assert _sign_in(there, "han").status_code == 200
    body = {"current": PASSWORD, "new": NEW_PASSWORD}
    assert here.post("/api/v1/me/password", json=body).status_code == 200
    assert here.get("/api/v1/me").status_code == 200
    assert there.get("/api/v1/me").status_code == 401


def test_tokens_are_shown_once_stored_hashed_and_stop_when_revoked_or_expired(
    client: TestClient, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    _user(sessions, "yang", Role.VIEWER)
    assert _sign_in(client, "yang").status_code == 200
    made = client.post("/api/v1/me/tokens", json={"name": "spreadsheet", "days": 2})
    assert made.status_code == 201, made.text
    secret, token_id = made.json()["secret"], made.json()["id"]
    assert secret.startswith("thk_") and made.json()["prefix"] == secret[:10]
    listed = client.get("/api/v1/me/tokens").json()
    assert listed["count"] == 1 and secret not in json.dumps(listed)
    with sessions() as db:
        row = db.scalars(select(ApiToken).where(ApiToken.id == token_id)).one()
        assert row.token_hash == secret_hash(secret) and secret not in row.token_hash
    bearer = TestClient(client.app)
    headers = {"Authorization": f"Bearer {secret}"}
    assert bearer.get("/api/v1/sessions", headers=headers).status_code == 200
    assert bearer.post("/api/v1/loans/1/renew", headers=headers).status_code == 403  # viewer

    clock.advance(timedelta(days=2))
    assert bearer.get("/api/v1/sessions", headers=headers).status_code == 401  # expired

    assert client.get("/api/v1/me").status_code == 401  # the session too, idle for days
    assert _sign_in(client, "yang").status_code == 200
    second = client.post("/api/v1/me/tokens", json={"name": "again"}).json()
    assert second["expires_at"].startswith(str((clock.now + timedelta(days=90)).date()))
    other = {"Authorization": f"Bearer {second['secret']}"}
    assert bearer.get("/api/v1/sessions", headers=other).status_code == 200
    assert client.delete(f"/api/v1/me/tokens/{second['id']}").status_code == 204
    assert bearer.get("/api/v1/sessions", headers=other).status_code == 401
    assert client.delete("/api/v1/me/tokens/99999").status_code == 404
    too_long = client.post("/api/v1/me/tokens", json={"name": "x", "days": 367})
    assert too_long.status_code == 422


def test_admins_manage_accounts_and_keep_the_last_admin(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    admin = staff_headers(sessions, Role.ADMIN, username="boss")
    created = client.post(
        "/api/v1/users", json={"username": "new.clerk", "role": "staff"}, headers=admin
    )
    assert created.status_code == 201, created.text
    temporary, user = created.json()["password"], created.json()["user"]
    assert user["must_change_password"] is True and user["display_name"] == "new.clerk"
    taken = client.post("/api/v1/users", json={"username": "New.Clerk", "role": "staff"},
                        headers=admin)  # fmt: skip
    assert taken.status_code == 409
    bad = client.post("/api/v1/users", json={"username": "a b", "role": "staff"}, headers=admin)
    assert bad.status_code == 422

    clerk = TestClient(client.app, client=("192.0.2.77", 1))
    assert _sign_in(clerk, "new.clerk", temporary).json()["must_change_password"] is True

    listed = client.get("/api/v1/users", params={"sort": "-username"}, headers=admin).json()
    assert [u["username"] for u in listed["data"]] == ["new.clerk", "boss"]
    assert listed["total"] == 2
    staff_only = client.get("/api/v1/users", params={"role": "staff"}, headers=admin).json()
    assert [u["username"] for u in staff_only["data"]] == ["new.clerk"]

    path = f"/api/v1/users/{user['id']}"
    assert client.patch(path, json={"role": "viewer"}, headers=admin).status_code == 428
    etag = client.get(path, headers=admin).headers["etag"]
    changed = client.patch(
        path, json={"display_name": "新来的", "disabled": True}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["disabled"] is True and changed.json()["version"] == 2
    stale = client.patch(path, json={"disabled": False, "version": 1}, headers=admin)
    assert stale.status_code == 409 and stale.json()["detail"]["version"] == 2
    assert clerk.get("/api/v1/me").status_code == 401  # disabling ended the session

    reset = client.post(f"{path}/reset-password", headers=admin)
    assert reset.status_code == 200 and reset.json()["user"]["must_change_password"] is True
    assert reset.json()["password"] != temporary

    with sessions() as db:
        boss = db.scalars(select(StaffUser).where(StaffUser.username == "boss")).one()
    boss_path = f"/api/v1/users/{boss.id}"
    for change in ({"role": "staff"}, {"disabled": True}):
        last = client.patch(boss_path, json={**change, "version": 1}, headers=admin)
        assert last.status_code == 409 and last.json()["detail"]["reason"] == "last_admin"
    second = client.post("/api/v1/users", json={"username": "deputy", "role": "admin"},
                         headers=admin)  # fmt: skip
    assert second.status_code == 201
    demoted = client.patch(boss_path, json={"role": "staff", "version": 1}, headers=admin)
    assert demoted.status_code == 200 and demoted.json()["role"] == "staff"
    assert client.get("/api/v1/users", headers=admin).status_code == 403  # boss is staff now


def test_every_account_write_is_audited_without_a_secret(
    client: TestClient, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    admin = staff_headers(sessions, Role.ADMIN, username="auditor")
    created = client.post("/api/v1/users", json={"username": "ma.li", "role": "viewer"},
                          headers=admin).json()  # fmt: skip
    user_id = created["user"]["id"]
    client.patch(f"/api/v1/users/{user_id}", json={"role": "staff", "version": 1}, headers=admin)
    reset = client.post(f"/api/v1/users/{user_id}/reset-password", headers=admin).json()
    person = TestClient(client.app, client=("192.0.2.5", 1))
    _sign_in(person, "ma.li", reset["password"])
    person.post("/api/v1/me/password", json={"current": reset["password"], "new": NEW_PASSWORD})
    token = person.post("/api/v1/me/tokens", json={"name": "sheet"}).json()
    person.delete(f"/api/v1/me/tokens/{token['id']}")

    answer = client.get("/api/v1/audit", params={"sort": "at", "limit": 100}, headers=admin)
    assert answer.status_code == 200
    entries = answer.json()["data"]
    assert [e["action"] for e in entries] == [
        "user.create",
        "user.update",
        "user.reset_password",
        "user.change_password",
        "token.create",
        "token.revoke",
    ]
    assert entries[1]["before"] == {"role": "viewer"} and entries[1]["after"] == {"role": "staff"}
    assert entries[0]["actor"] == "auditor" and entries[3]["actor"] == "ma.li"
    assert entries[3]["address"] == "192.0.2.5"
    text = json.dumps(answer.json())
    for secret in (created["password"], reset["password"], NEW_PASSWORD, token["secret"]):
        assert secret not in text
    with sessions() as db:
        stored = json.dumps([[e.before, e.after] for e in db.scalars(select(AuditEntry))])
    assert token["secret"] not in stored and "argon2" not in stored

    by_entity = client.get("/api/v1/audit", params={"entity": "token"}, headers=admin).json()
    assert by_entity["total"] == 2 and by_entity["data"][0]["action"] == "token.revoke"
    since = (clock.now + timedelta(seconds=1)).isoformat()
    assert client.get("/api/v1/audit", params={"since": since}, headers=admin).json()["total"] == 0
    naive = client.get("/api/v1/audit", params={"since": "2026-11-27T00:00:00"}, headers=admin)
    assert naive.status_code == 422
    assert client.delete("/api/v1/audit", headers=admin).status_code == 405  # read-only


def test_a_password_reset_holds_the_accounts_tokens_until_the_new_password_is_set(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    admin = staff_headers(sessions, Role.ADMIN)
    worker = staff_headers(sessions, Role.STAFF, username="zhao.gong")
    assert client.get("/api/v1/members", headers=worker).status_code == 200
    with sessions() as db:
        user_id = db.scalars(select(StaffUser.id).where(StaffUser.username == "zhao.gong")).one()
    reset = client.post(f"/api/v1/users/{user_id}/reset-password", headers=admin).json()

    # Whoever holds the password the reset answers may also hold the account's tokens.
    held = client.get("/api/v1/members", headers=worker)
    assert held.status_code == 403 and "密码" in held.json()["detail"]
    assert client.post("/api/v1/me/tokens", json={"name": "x"}, headers=worker).status_code == 403

    person = TestClient(client.app, client=("192.0.2.9", 1))
    _sign_in(person, "zhao.gong", reset["password"])
    changed = person.post(
        "/api/v1/me/password", json={"current": reset["password"], "new": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/v1/members", headers=worker).status_code == 200


def test_a_422_names_the_fields_and_never_echoes_a_password(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    worker = staff_headers(sessions, Role.STAFF)
    sent = {"current_password": PASSWORD, "new_password": "Secret-Sauce-1234"}
    answer = client.post("/api/v1/me/password", json=sent, headers=worker)
    assert answer.status_code == 422
    errors = answer.json()["detail"]
    assert {tuple(e["loc"]) for e in errors} >= {("body", "current"), ("body", "new")}
    assert all(set(e) <= {"type", "loc", "msg"} for e in errors)
    assert PASSWORD not in answer.text and "Secret-Sauce-1234" not in answer.text
