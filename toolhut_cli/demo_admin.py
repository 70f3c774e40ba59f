"""The demo's admin: an account ``admin`` made the first time, its random password kept in
the demo's data folder (0600) so a second run can print it again; and an API token for
the banner's staff example, one day long."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from server.accounts.passwords import hash_password, temporary_password, verify_password
from server.accounts.tokens import issue_token
from server.accounts.users import create_user, find_user
from server.clock import system_clock
from server.domain.roles import Role
from toolhut.hut_keys import write_private

USERNAME = "admin"
TOKEN_LIFETIME = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DemoAdmin:
    username: str
    password: str
    token: str


def demo_admin(sessions: sessionmaker[Session], password_file: Path) -> DemoAdmin:
    """The admin (created if missing, with the password of ``password_file`` or a new
    one), and a new one-day API token of it."""
    now = system_clock()
    kept = password_file.read_text(encoding="utf-8").strip() if password_file.exists() else ""
    with sessions.begin() as db:
        user = find_user(db, USERNAME)
        password = kept or temporary_password()
        if user is None:
            user = create_user(
                db,
                username=USERNAME,
                password=password,
                role=Role.ADMIN,
                now=now,
                display_name="演示管理员 demo admin",
                must_change_password=False,
            )
        elif not kept or not verify_password(user.password_hash, kept):
            # The file went, or the account's password was changed: the demo's is new.
            password = temporary_password()
            user.password_hash = hash_password(password)
            user.disabled_at = None
        _, token = issue_token(db, user, name="demo banner", now=now, lifetime=TOKEN_LIFETIME)
    if password != kept:
        write_private(password_file, password.encode() + b"\n")
    return DemoAdmin(USERNAME, password, token)
