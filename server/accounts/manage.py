"""What the API and the command line do to staff accounts, each write audited: create an
account, change its name, role or whether it is enabled, give it a new temporary password,
change one's own password, issue and revoke API tokens.

Never a password, a hash or a token in the audit log: an entry names the account and the
fields that changed. A password reset ends the account's sessions and holds its API tokens
(403) until the new password is set (server.accounts.tokens); for a compromise, disable
the account: its sessions and tokens stop at once."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.errors import AccountConflictError, AccountNotFoundError
from server.accounts.passwords import hash_password, temporary_password, verify_password
from server.accounts.sessions import end_sessions_of
from server.accounts.strength import weaknesses
from server.accounts.tokens import MAX_LIFETIME, issue_token, token_of
from server.accounts.users import create_user, find_user
from server.domain.actors import Actor
from server.domain.record_errors import FieldError, InvalidFieldsError, StaleVersionError
from server.domain.roles import Role
from server.storage import audit
from server.storage.staff_models import ApiToken, StaffUser
from server.storage.versioned import update_versioned
from toolhut.i18n import bilingual

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)

# What a person reads: Chinese first, English beside it.
TEXT_BAD_USERNAME = bilingual(
    "a username is 3 to 64 letters, digits or . _ -, starting with a letter or digit"
)
TEXT_USERNAME_TAKEN = bilingual("this username is taken")
TEXT_LAST_ADMIN = bilingual("the last enabled admin cannot be disabled or given another role")
TEXT_NO_USER = bilingual("no such account")
TEXT_NO_TOKEN = bilingual("no such token")
TEXT_WRONG_CURRENT = bilingual("the current password is wrong")
TEXT_SAME_PASSWORD = bilingual("the new password must differ from the current one")
TEXT_TOKEN_DAYS = bilingual("a token lasts 1 to {days} days").format(days=MAX_LIFETIME.days)


def user_values(user: StaffUser) -> dict[str, Any]:
    """What the audit log keeps of an account: never its password hash."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "disabled": user.disabled_at is not None,
        "must_change_password": user.must_change_password,
    }


def _record_user(
    db: Session,
    action: str,
    user: StaffUser,
    *,
    actor: Actor,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit.record(
        db,
        actor=actor,
        action=action,
        entity="user",
        entity_id=user.id,
        at=now,
        before=before,
        after=after,
    )


def account(db: Session, user_id: int) -> StaffUser:
    user = db.get(StaffUser, user_id)
    if user is None:
        raise AccountNotFoundError(TEXT_NO_USER)
    return user


def account_named(db: Session, username: str) -> StaffUser:
    user = find_user(db, username)
    if user is None:
        raise AccountNotFoundError(TEXT_NO_USER)
    return user


def new_account(
    db: Session,
    *,
    username: str,
    role: Role,
    actor: Actor,
    now: datetime,
    display_name: str | None = None,
    password: str | None = None,
) -> tuple[StaffUser, str | None]:
    """A new account. Without ``password``: a temporary one, returned to be shown once,
    changed at first sign-in. With one (the first admin's, from a file): it must be strong,
    and is kept."""
    if not _USERNAME.fullmatch(username):
        raise InvalidFieldsError([FieldError("username", TEXT_BAD_USERNAME)])
    if find_user(db, username) is not None:
        raise AccountConflictError("username_taken", TEXT_USERNAME_TAKEN)
    if password is not None:
        problems = weaknesses(password, username=username)
        if problems:
            raise InvalidFieldsError([FieldError("password", reason) for reason in problems])
    secret = temporary_password() if password is None else password
    user = create_user(
        db,
        username=username,
        password=secret,
        role=role,
        now=now,
        display_name=display_name,
        must_change_password=password is None,
    )
    _record_user(
        db,
        "user.create",
        user,
        actor=actor,
        now=now,
        after=user_values(user),
    )
    return user, secret if password is None else None


def _enabled_admins(db: Session) -> int:
    query = select(func.count()).where(
        StaffUser.role == Role.ADMIN, StaffUser.disabled_at.is_(None)
    )
    return db.scalar(query.select_from(StaffUser)) or 0


def update_account(
    db: Session,
    user: StaffUser,
    *,
    expected: int,
    actor: Actor,
    now: datetime,
    display_name: str | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
) -> StaffUser:
    """Change what is given (None: unchanged), if ``user`` is still at version
    ``expected`` (StaleVersionError otherwise). The last enabled admin stays one
    (AccountConflictError). Disabling ends the account's sessions; its tokens stop too."""
    if user.version != expected:
        raise StaleVersionError(user.version)
    before = user_values(user)
    values: dict[str, Any] = {}
    if display_name is not None and display_name != user.display_name:
        values["display_name"] = display_name
    if role is not None and role is not user.role:
        values["role"] = role
    if disabled is not None and disabled != (user.disabled_at is not None):
        values["disabled_at"] = now if disabled else None
    stays_admin = values.get("role", user.role) is Role.ADMIN and not (
        values.get("disabled_at", user.disabled_at) is not None
    )
    enabled_admin = user.role is Role.ADMIN and user.disabled_at is None
    if enabled_admin and not stays_admin and _enabled_admins(db) <= 1:
        raise AccountConflictError("last_admin", TEXT_LAST_ADMIN)
    if not values:
        return user
    update_versioned(db, user, expected=expected, values=values)
    if values.get("disabled_at") is not None:
        end_sessions_of(db, user.id, now=now)
    after = user_values(user)
    changed = [key for key in after if after[key] != before[key]]
    _record_user(
        db,
        "user.update",
        user,
        actor=actor,
        now=now,
        before={key: before[key] for key in changed},
        after={key: after[key] for key in changed},
    )
    return user


def reset_password(db: Session, user: StaffUser, *, actor: Actor, now: datetime) -> str:
    """A new temporary password (returned, to be shown once; changed at next sign-in);
    every session of the account ends, its API tokens stay."""
    password = temporary_password()
    _set_password(db, user, password, temporary=True, actor=actor, now=now)
    return password


def _set_password(
    db: Session,
    user: StaffUser,
    password: str,
    *,
    temporary: bool,
    actor: Actor,
    now: datetime,
    keep_session: int | None = None,
) -> None:
    """The new hash; every session but ``keep_session`` ends; audited without a value."""
    user.password_hash = hash_password(password)
    user.must_change_password = temporary
    if not temporary:
        user.password_changed_at = now
    end_sessions_of(db, user.id, now=now, keep=keep_session)
    _record_user(
        db,
        "user.reset_password" if temporary else "user.change_password",
        user,
        actor=actor,
        now=now,
        after={"must_change_password": temporary},
    )


def change_password(
    db: Session,
    user: StaffUser,
    *,
    current: str,
    new: str,
    actor: Actor,
    now: datetime,
    keep_session: int | None = None,
) -> None:
    """One's own password: the current one proves it is them; the new one must be strong.
    Every other session of the account ends (``keep_session``: the one asking)."""
    if not verify_password(user.password_hash, current):
        raise InvalidFieldsError([FieldError("current", TEXT_WRONG_CURRENT)])
    problems = weaknesses(new, username=user.username)
    if new == current:
        problems.append(TEXT_SAME_PASSWORD)
    if problems:
        raise InvalidFieldsError([FieldError("new", reason) for reason in problems])
    _set_password(db, user, new, temporary=False, actor=actor, now=now, keep_session=keep_session)


def new_token(
    db: Session, user: StaffUser, *, name: str, days: int, actor: Actor, now: datetime
) -> tuple[ApiToken, str]:
    """An API token of ``user`` for ``days`` days; returns its row and the secret, which
    nothing stores: show it once."""
    if not 1 <= days <= MAX_LIFETIME.days:
        raise InvalidFieldsError([FieldError("days", TEXT_TOKEN_DAYS)])
    token, secret = issue_token(db, user, name=name, now=now, lifetime=timedelta(days=days))
    audit.record(
        db,
        actor=actor,
        action="token.create",
        entity="token",
        entity_id=token.id,
        at=now,
        after={"user": user.username, "name": name, "expires_at": token.expires_at},
    )
    return token, secret


def revoke_token(
    db: Session, user: StaffUser, token_id: int, *, actor: Actor, now: datetime
) -> ApiToken:
    """The token opens nothing from now on (revoking it again changes nothing)."""
    token = token_of(db, user.id, token_id)
    if token is None:
        raise AccountNotFoundError(TEXT_NO_TOKEN)
    if token.revoked_at is None:
        token.revoked_at = now
        audit.record(
            db,
            actor=actor,
            action="token.revoke",
            entity="token",
            entity_id=token.id,
            at=now,
            before={"user": user.username, "name": token.name},
        )
    return token
