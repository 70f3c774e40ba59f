"""API payloads of staff accounts, their tokens and the audit log. No password, hash or
token secret in any response, but the one-time ``password``/``secret`` of the response
that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from server.accounts.manage import USERNAME_PATTERN
from server.accounts.tokens import MAX_LIFETIME
from server.api.params import RequestBody
from server.domain.roles import Role
from server.storage.staff_models import ApiToken, AuditEntry, StaffUser

Username = Annotated[str, Field(min_length=1, max_length=64)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100)]


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    must_change_password: bool
    disabled: bool
    created_at: datetime
    last_sign_in_at: datetime | None
    password_changed_at: datetime | None
    version: int

    @classmethod
    def of(cls, user: StaffUser) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            must_change_password=user.must_change_password,
            disabled=user.disabled_at is not None,
            created_at=user.created_at,
            last_sign_in_at=user.last_sign_in_at,
            password_changed_at=user.password_changed_at,
            version=user.version,
        )


class SignIn(RequestBody):
    username: Username
    password: Password


class SignedIn(BaseModel):
    user: UserOut
    must_change_password: bool


class PasswordChange(RequestBody):
    current: Password
    new: Password


class TokenCreate(RequestBody):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    days: Annotated[int | None, Field(ge=1, le=MAX_LIFETIME.days)] = Field(
        None, description="lifetime in days; unset: the server's accounts.token_days"
    )


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokensOut(BaseModel):
    data: list[TokenOut]
    count: int


class TokenIssued(TokenOut):
    secret: str = Field(description="the token itself: shown this once, never again")


class UserCreate(RequestBody):
    username: Annotated[str, Field(pattern=USERNAME_PATTERN)]
    display_name: DisplayName | None = None
    role: Role


class UserCreated(BaseModel):
    user: UserOut
    password: str = Field(description="the temporary password: shown this once")


class UserUpdate(RequestBody):
    display_name: DisplayName | None = None
    role: Role | None = None
    disabled: bool | None = None
    version: int | None = Field(None, description="the version edited (or send If-Match)")


class PasswordReset(BaseModel):
    user: UserOut
    password: str = Field(description="the new temporary password: shown this once")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    user_id: int | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    address: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            user_id=entry.user_id,
            action=entry.action,
            entity=entry.entity,
            entity_id=entry.entity_id,
            before=entry.before,
            after=entry.after,
            address=entry.address,
        )
