"""Staff accounts, for admins: list, create (a temporary password shown once), change the
name, role or whether an account is enabled (versioned: If-Match or ``version``), and give
an account a new temporary password. The last enabled admin stays one (409)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from server.accounts import manage
from server.api.account_schemas import (
    PasswordReset,
    UserCreate,
    UserCreated,
    UserOut,
    UserUpdate,
)
from server.api.auth import AdminDep, AdminOnly, actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.params import RowId
from server.api.versioning import expected_version, with_etag
from server.domain.roles import Role
from server.storage.staff_models import StaffUser
from server.storage.staff_queries import accounts

router = APIRouter(prefix="/api/v1", tags=["users"], dependencies=[AdminOnly])

_SORTS = {
    "id": StaffUser.id,
    "username": StaffUser.username,
    "display_name": StaffUser.display_name,
    "role": StaffUser.role,
    "created_at": StaffUser.created_at,
    "last_sign_in_at": StaffUser.last_sign_in_at,
}


@router.get("/users")
def list_users(
    db: DbDep,
    page: PageDep,
    role: Role | None = None,
    disabled: Annotated[bool | None, Query(description="true: only disabled accounts")] = None,
) -> Listing[UserOut]:
    query = accounts(role=role, disabled=disabled)
    rows, total = page_of(db, sorted_by(query, page.sort, _SORTS, default="id"), page)
    return listing([UserOut.of(user) for user in rows], total, page)


@router.get("/users/{user_id}")
def get_user(user_id: RowId, db: DbDep, response: Response) -> UserOut:
    with staff_action():
        user = manage.account(db, user_id)
    with_etag(response, user.version)
    return UserOut.of(user)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, principal: AdminDep, request: Request, db: DbDep, now: NowDep
) -> UserCreated:
    """A new account with a temporary password, shown in this answer only; its holder
    sets their own at first sign-in."""
    with staff_action():
        user, password = manage.new_account(
            db,
            username=body.username,
            role=body.role,
            display_name=body.display_name,
            actor=actor_of(principal, request),
            now=now,
        )
    db.commit()
    assert password is not None
    return UserCreated(user=UserOut.of(user), password=password)


@router.patch("/users/{user_id}")
def update_user(
    user_id: RowId,
    body: UserUpdate,
    principal: AdminDep,
    request: Request,
    response: Response,
    db: DbDep,
    now: NowDep,
) -> UserOut:
    """Change the display name, role or ``disabled`` (a disabled account's sessions end
    and its tokens stop). 428 without a version, 409 if it is stale, 409 for the last
    enabled admin."""
    with staff_action():
        user = manage.account(db, user_id)
        expected = expected_version(request, body.version)
        manage.update_account(
            db,
            user,
            expected=expected,
            actor=actor_of(principal, request),
            now=now,
            display_name=body.display_name,
            role=body.role,
            disabled=body.disabled,
        )
    db.commit()
    with_etag(response, user.version)
    return UserOut.of(user)


@router.post("/users/{user_id}/reset-password")
def reset_password(
    user_id: RowId, principal: AdminDep, request: Request, db: DbDep, now: NowDep
) -> PasswordReset:
    """A new temporary password, shown in this answer only, to be changed at the next
    sign-in; the account's sessions end and its API tokens answer 403 until then (to end
    them for good, disable the account)."""
    with staff_action():
        user = manage.account(db, user_id)
        password = manage.reset_password(db, user, actor=actor_of(principal, request), now=now)
    db.commit()
    return PasswordReset(user=UserOut.of(user), password=password)
