"""Staff accounts without HTTP: password strength, the temporary passwords, sign-in's
checks (a hash made with weaker parameters renewed), the versioned edit and the last
admin, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from server.accounts import manage
from server.accounts.errors import AccountConflictError
from server.accounts.passwords import temporary_password, verify_password
from server.accounts.sign_in import authenticate
from server.accounts.strength import (
    TEXT_COMMON,
    TEXT_IS_USERNAME,
    TEXT_TOO_PLAIN,
    TEXT_TOO_SHORT,
    weaknesses,
)
from server.domain.actors import Actor
from server.domain.record_errors import InvalidFieldsError, StaleVersionError
from server.domain.roles import Role
from server.storage.staff_models import StaffUser

from .conftest import T0

ACTOR = Actor("tests")


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Sh0rt!", [TEXT_TOO_SHORT]),
        ("Password_123!", [TEXT_COMMON]),
        ("woaini1314", [TEXT_COMMON, TEXT_TOO_PLAIN]),
        ("aaaaaaaaaaaaaaaaaaaa", [TEXT_COMMON]),
        ("lowercaseonly", [TEXT_TOO_PLAIN]),
        ("My-liu.wei-Pass7", [TEXT_IS_USERNAME]),
        ("correct horse battery staple", []),  # long: one kind of character is enough
        ("Tiger-Lily-42", []),
    ],
)
def test_password_strength_names_each_weakness(password: str, problems: list[str]) -> None:
    assert weaknesses(password, username="liu.wei") == problems


def test_temporary_passwords_are_strong_and_new_each_time() -> None:
    made = {temporary_password() for _ in range(50)}
    assert len(made) == 50
    assert all(weaknesses(p, username="") == [] for p in made)


def test_sign_in_renews_a_hash_made_with_weaker_parameters(
    sessions: sessionmaker[Session],
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with sessions.begin() as db:
        db.add(
            StaffUser(
                username="old",
                display_name="old",
                role=Role.STAFF,
                password_hash=weak.hash("Old-but-Good-42"),
                must_change_password=False,
                created_at=T0,
            )
        )
    with sessions.begin() as db:
        assert authenticate(db, "old", "wrong", now=T0) is None
        user = authenticate(db, "OLD", "Old-but-Good-42", now=T0)
        assert user is not None and user.last_sign_in_at == T0
        assert "m=8," not in user.password_hash and verify_password(
            user.password_hash, "Old-but-Good-42"
        )


def _admin(db: Session, name: str) -> StaffUser:
    user, _ = manage.new_account(db, username=name, role=Role.ADMIN, actor=ACTOR, now=T0)
    return user


def test_the_last_enabled_admin_stays_one(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        first = _admin(db, "first")
        with pytest.raises(AccountConflictError):
            manage.update_account(db, first, expected=1, actor=ACTOR, now=T0, disabled=True)
        second = _admin(db, "second")
        manage.update_account(db, second, expected=1, actor=ACTOR, now=T0, disabled=True)
        with pytest.raises(AccountConflictError):  # a disabled admin does not count
            manage.update_account(db, first, expected=1, actor=ACTOR, now=T0, role=Role.STAFF)
        manage.update_account(db, second, expected=2, actor=ACTOR, now=T0, disabled=False)
        manage.update_account(db, first, expected=1, actor=ACTOR, now=T0, role=Role.STAFF)
        assert first.role is Role.STAFF and first.version == 2


def test_an_edit_of_a_stale_version_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        user, _ = manage.new_account(db, username="clerk", role=Role.STAFF, actor=ACTOR, now=T0)
        manage.update_account(db, user, expected=1, actor=ACTOR, now=T0, display_name="A")
        with pytest.raises(StaleVersionError) as refused:
            manage.update_account(db, user, expected=1, actor=ACTOR, now=T0, display_name="B")
        assert refused.value.current == 2 and user.display_name == "A"


def test_a_chosen_password_must_be_strong_and_is_kept(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        with pytest.raises(InvalidFieldsError) as weak:
            manage.new_account(
                db, username="first", role=Role.ADMIN, actor=ACTOR, now=T0, password="admin"
            )
        assert {e.field for e in weak.value.errors} == {"password"}
        user, shown = manage.new_account(
            db, username="first", role=Role.ADMIN, actor=ACTOR, now=T0, password="Tiger-Lily-42"
        )
        assert shown is None and not user.must_change_password
        token, secret = manage.new_token(db, user, name="ci", days=30, actor=ACTOR, now=T0)
        assert token.expires_at == T0 + timedelta(days=30) and secret.startswith("thk_")
        with pytest.raises(InvalidFieldsError):
            manage.new_token(db, user, name="ci", days=400, actor=ACTOR, now=T0)
