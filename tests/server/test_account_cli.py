"""``toolhut server create-user | users | reset-password | token create`` as an operator
runs them: a password or token printed once, refusals as a message and exit code 2, each
write audited as the command line."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from server.accounts.passwords import verify_password
from server.accounts.secrets import secret_hash
from server.storage import make_engine, make_sessionmaker
from server.storage.staff_models import ApiToken, AuditEntry, StaffUser
from tests.support.processes import run_toolhut


def test_accounts_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/accounts.sqlite3"
    created = run_toolhut("server", "create-user", "--db", db, "--username", "admin",
                          "--role", "admin", "--display-name", "管理员")  # fmt: skip
    assert created.returncode == 0, created.stderr
    found = re.search(r"^password: (\S+)$", created.stdout, re.M)
    assert found is not None, created.stdout
    password = found.group(1)

    again = run_toolhut("server", "create-user", "--db", db, "--username", "ADMIN",
                        "--role", "staff")  # fmt: skip
    assert again.returncode == 2 and "username is taken" in again.stderr

    chosen = tmp_path / "password"
    chosen.write_text("admin\n", encoding="utf-8")
    weak = run_toolhut("server", "create-user", "--db", db, "--username", "clerk",
                       "--role", "staff", "--password-file", str(chosen))  # fmt: skip
    assert weak.returncode == 2 and "password: " in weak.stderr and "admin" not in weak.stdout
    chosen.write_text("Tiger-Lily-42\n", encoding="utf-8")
    kept = run_toolhut("server", "create-user", "--db", db, "--username", "clerk",
                       "--role", "staff", "--password-file", str(chosen))  # fmt: skip
    assert kept.returncode == 0 and "Tiger-Lily-42" not in kept.stdout + kept.stderr

    listed = run_toolhut("server", "users", "--db", db)
    assert listed.returncode == 0
    lines = [line for line in listed.stdout.splitlines() if "\t" in line]
    assert [line.split("\t")[1:3] for line in lines] == [["admin", "admin"], ["clerk", "staff"]]
    assert "must change password" in lines[0] and "must change" not in lines[1]

    reset = run_toolhut("server", "reset-password", "--db", db, "--username", "clerk")
    assert reset.returncode == 0, reset.stderr
    temporary = reset.stdout.split("new temporary password of clerk: ")[1].split()[0]
    nobody = run_toolhut("server", "reset-password", "--db", db, "--username", "nobody")
    assert nobody.returncode == 2 and "no such account" in nobody.stderr

    token = run_toolhut("server", "token", "create", "--db", db, "--username", "admin",
                        "--name", "backup script", "--days", "7")  # fmt: skip
    assert token.returncode == 0, token.stderr
    secret = re.search(r"(thk_\S+)", token.stdout)
    assert secret is not None

    engine = make_engine(db)
    try:
        with make_sessionmaker(engine)() as session:
            users = {u.username: u for u in session.scalars(select(StaffUser))}
            assert verify_password(users["admin"].password_hash, password)
            assert users["admin"].display_name == "管理员"
            assert verify_password(users["clerk"].password_hash, temporary)
            assert users["clerk"].must_change_password
            row = session.scalars(select(ApiToken)).one()
            assert row.token_hash == secret_hash(secret.group(1)) and row.name == "backup script"
            entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    finally:
        engine.dispose()
    assert [e.action for e in entries] == [
        "user.create",
        "user.create",
        "user.reset_password",
        "token.create",
    ]
    assert all(e.actor.startswith("cli:") and e.user_id is None for e in entries)
    stored = repr([(e.before, e.after) for e in entries])
    for shown in (password, temporary, secret.group(1), "Tiger-Lily-42"):
        assert shown not in stored
