"""Personal API tokens: issued shown once, stored hashed, named, expiring, revocable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal, Via
from server.accounts.secrets import TOKEN_PREFIX, new_secret, secret_hash
from server.storage.staff_models import ApiToken, StaffUser

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
# last_used_at is written at most this often per token: a busy integration must not turn
# every read into a write.
_TOUCH_EVERY = timedelta(minutes=5)


def issue_token(
    db: Session,
    user: StaffUser,
    *,
    name: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns its row and the secret, which is never stored."""
    secret = new_secret(TOKEN_PREFIX)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=secret_hash(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_at=now,
        expires_at=now + min(lifetime, MAX_LIFETIME),
    )
    db.add(token)
    db.flush()
    return token, secret


def principal_of_token(db: Session, secret: str, *, now: datetime) -> Principal | None:
    """The token's account, if the token is known, not revoked nor expired, and its
    account not disabled; None otherwise."""
    row = db.execute(
        select(ApiToken, StaffUser)
        .join(StaffUser, ApiToken.user_id == StaffUser.id)
        .where(ApiToken.token_hash == secret_hash(secret))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or token.expires_at <= now or user.disabled_at is not None:
        return None
    if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
        token.last_used_at = now
        db.commit()
    return Principal.of(user, via=Via.TOKEN, credential_id=token.id)


def tokens_of(db: Session, user_id: int) -> list[ApiToken]:
    """The account's tokens, newest first, revoked and expired ones included."""
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    return list(db.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def token_of(db: Session, user_id: int, token_id: int) -> ApiToken | None:
    """The account's token ``token_id``; None if there is none (or it is another's)."""
    token = db.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user_id else None
