"""/console/users and /console/audit: admins only; an account added (its temporary password
shown once), its role changed, disabled, a password reset, refusals named on the page;
the audit log filtered and paged."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.storage.staff_models import AuditEntry, StaffUser
from tests.server.conftest import T0
from tests.support.console import Console


def account(sessions: sessionmaker[Session], username: str) -> StaffUser:
    with sessions() as db:
        return db.scalars(select(StaffUser).where(StaffUser.username == username)).one()


def test_staff_and_viewers_get_the_403_page(signed_in: Callable[[Role], Console]) -> None:
    for role in (Role.STAFF, Role.VIEWER):
        console = signed_in(role)
        for path in ("/console/users", "/console/audit"):
            page = console.get(path)
            assert page.status_code == 403 and "管理员" in page.text
        assert console.post("/console/users", {"username": "x", "role": "admin"}).status_code == 403


def test_an_admin_adds_a_user_changes_the_role_disables_and_resets(
    signed_in: Callable[[Role], Console],
    browser: Callable[[], Console],
    sessions: sessionmaker[Session],
) -> None:
    admin = signed_in(Role.ADMIN)
    assert admin.get("/console/users").status_code == 200
    added = admin.post(
        "/console/users", {"username": "wang.li", "display_name": "王丽", "role": "staff"}
    )
    assert added.status_code == 200 and added.headers["cache-control"] == "no-store"
    password = re.search(r"<code>([^<]+)</code>", added.text)
    assert password is not None and "wang.li 的临时密码" in added.text
    user = account(sessions, "wang.li")
    assert user.role is Role.STAFF and user.must_change_password
    newcomer = browser()
    assert newcomer.sign_in("wang.li", password.group(1)).headers["location"] == "/console/password"

    changed = admin.post(
        f"/console/users/{user.id}/role", {"role": "viewer", "version": str(user.version)}
    )
    assert changed.status_code == 303 and changed.headers["location"] == "/console/users"
    user = account(sessions, "wang.li")
    assert user.role is Role.VIEWER
    stale = admin.post(f"/console/users/{user.id}/role", {"role": "admin", "version": "1"})
    assert stale.status_code == 409 and "刷新后再试" in stale.text

    admin.get("/console/users")
    disabled = admin.post(f"/console/users/{user.id}/disable", {"version": str(user.version)})
    assert disabled.status_code == 303 and account(sessions, "wang.li").disabled_at is not None

    admin.get("/console/users")
    reset = admin.post(f"/console/users/{user.id}/reset-password", {})
    assert reset.status_code == 200 and re.search(r"<code>[^<]+</code>", reset.text)
    assert password.group(1) not in reset.text


def test_bad_input_is_named_beside_the_field(signed_in: Callable[[Role], Console]) -> None:
    admin = signed_in(Role.ADMIN)
    admin.get("/console/users")
    empty = admin.post("/console/users", {"username": "", "role": "ruler"})
    assert (
        empty.status_code == 422 and 'id="e-username"' in empty.text and 'id="e-role"' in empty.text
    )
    bad = admin.post("/console/users", {"username": "no spaces allowed", "role": "staff"})
    assert bad.status_code == 422 and 'id="e-username"' in bad.text
    assert 'value="no spaces allowed"' in bad.text  # the form refilled
    ghost = admin.post("/console/users/abc/disable", {"version": "1"})
    assert ghost.status_code == 404 and "没有这个账户" in ghost.text
    assert admin.get("/console/users?offset=abc").status_code == 422


def test_the_last_admin_cannot_be_disabled(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    admin = signed_in(Role.ADMIN)
    with sessions() as db:
        admins = db.scalars(select(StaffUser).where(StaffUser.role == Role.ADMIN)).all()
    assert len(admins) == 1
    admin.get("/console/users")
    refused = admin.post(
        f"/console/users/{admins[0].id}/disable", {"version": str(admins[0].version)}
    )
    assert refused.status_code == 409 and "last_admin" not in refused.text
    assert account(sessions, admins[0].username).disabled_at is None


def test_the_audit_log_filtered_and_paged(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    from datetime import timedelta

    with sessions.begin() as db:
        for n in range(60):
            db.add(
                AuditEntry(
                    at=T0 + timedelta(hours=n),
                    actor="alice" if n % 2 else "bob",
                    action="item.update",
                    entity="item",
                    entity_id=f"T{n:04d}",
                    after={"name_zh": f"物品{n}"},
                )
            )
    admin = signed_in(Role.ADMIN)
    page = admin.get("/console/audit")
    assert page.status_code == 200 and "共 60 条记录" in page.text
    assert "T0059" in page.text and "T0009" not in page.text  # newest first, 50 a page
    assert "offset=50" in page.text
    second = admin.get("/console/audit?offset=50").text
    assert "T0009" in second and "T0059" not in second
    alice = admin.get("/console/audit?actor=alice").text
    assert "共 30 条记录" in alice and "T0002" not in alice
    one_day = admin.get("/console/audit?since=2026-11-27&until=2026-11-27").text
    assert "共 14 条记录" in one_day  # 10:00 to 23:00 in Shanghai, T0 being 10:00
    for query, field in (("since=yesterday", "since"), ("until=2026-13-01", "until")):
        bad = admin.get(f"/console/audit?{query}")
        assert bad.status_code == 422 and f'id="e-{field}"' in bad.text
    assert admin.get("/console/audit?offset=-1").status_code == 422
    reversed_ = admin.get("/console/audit?since=2026-11-28&until=2026-11-27")
    assert reversed_.status_code == 422 and "结束日期早于开始日期" in reversed_.text
