"""Members and their cards, for signed-in staff: list, read, create, edit, leave; for
admins, one member's personal data as a document, and the erasure of a member who left.

Viewers read, staff write, admins export and erase (server.api.auth). Every write is
audited and each edit is version-checked (If-Match or the body's version). Suspending and
reactivating are in routes/access.py with the cards' own routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from server.api.auth import ViewerOnly
from server.api.deps import DbDep, SettingsDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.member_schemas import (
    CardListed,
    MemberStaff,
    MemberSummary,
    OptionalReason,
)
from server.api.params import RowId
from server.api.stamps import AdminStamp, StaffStamp
from server.api.versioning import expected_version, with_etag
from server.domain import CardStatus, MemberStatus
from server.records import member_privacy, members
from server.records.member_fields import MemberCreate, MemberEdit
from server.settings import ServerSettings
from server.storage.models import Card, Member
from toolhut.contract import HUT_ID_PATTERN, refuse_control_chars

router = APIRouter(prefix="/api/v1", tags=["members"])

# A control character (a NUL made PostgreSQL fail the query: 500) is a 422 at the edge.
SearchText = Annotated[
    str | None,
    Query(max_length=100, description="name, phone, flat or card UID contains"),
    AfterValidator(refuse_control_chars),
]
CardSearchText = Annotated[
    str | None,
    Query(max_length=20, description="card UID contains"),
    AfterValidator(refuse_control_chars),
]


def _channels(settings: ServerSettings) -> frozenset[str]:
    """The reminder channels a member's contact may name (none configured: any)."""
    return frozenset(settings.reminders.channels)


def _answer(db: Session, member: Member, response: Response) -> MemberStaff:
    with_etag(response, member.version)
    return MemberStaff.of(
        member,
        contacts=members.contacts_of(db, member.id),
        open_loans=members.open_loans(db, member.id),
    )


@router.get("/members", dependencies=[ViewerOnly])
def list_members(
    db: DbDep,
    page: PageDep,
    q: SearchText = None,
    member_status: Annotated[MemberStatus | None, Query(alias="status")] = None,
    hut: Annotated[
        str | None, Query(pattern=HUT_ID_PATTERN, description="who may open this hut")
    ] = None,
    flag: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
) -> Listing[MemberSummary]:
    """Members, filtered; sort by name, building_unit, created_at or id (-: descending)."""
    query = members.list_query(q=q, status=member_status, hut=hut, flag=flag)
    query = sorted_by(query, page.sort, members.SORTS, default="id")
    rows, total = page_of(db, query, page)
    return listing([MemberSummary.of(m) for m in rows], total, page)


@router.get("/members/{member_id}", dependencies=[ViewerOnly])
def get_member(member_id: RowId, db: DbDep, response: Response) -> MemberStaff:
    """Everything about the member: cards, flags, huts, contacts, open loans; the ETag is
    the version an edit names."""
    with staff_action():
        member = members.get(db, member_id)
    return _answer(db, member, response)


@router.post("/members", status_code=status.HTTP_201_CREATED)
def create_member(
    body: MemberCreate, db: DbDep, settings: SettingsDep, stamp: StaffStamp, response: Response
) -> MemberStaff:
    """A new member (active). ``huts`` empty: every hut; cards are given afterwards."""
    with staff_action():
        member = members.create(db, body, stamp=stamp, channels=_channels(settings))
    db.commit()
    return _answer(db, member, response)


@router.patch("/members/{member_id}")
def edit_member(
    member_id: RowId,
    body: MemberEdit,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    stamp: StaffStamp,
    response: Response,
) -> MemberStaff:
    """The fields given change, if nobody changed the member since the version read
    (If-Match or ``version``: 428 without either, 409 when stale)."""
    with staff_action():
        members.get(db, member_id)  # 404 before 428: there is no version of nothing
    expected = expected_version(request, body.version)
    with staff_action():
        member = members.edit(
            db, member_id, body, expected=expected, stamp=stamp, channels=_channels(settings)
        )
    db.commit()
    return _answer(db, member, response)


@router.post("/members/{member_id}/leave")
def member_leaves(
    member_id: RowId,
    db: DbDep,
    stamp: StaffStamp,
    response: Response,
    body: OptionalReason = None,
) -> MemberStaff:
    """The member moved away: every card removed (they open nothing), their waiting-list
    places cancelled. Refused (409, open_loans) while they still have something on loan:
    without a card they could not bring it back; return it or mark it lost first."""
    with staff_action():
        member = members.leave(
            db, member_id, reason=None if body is None else body.reason, stamp=stamp
        )
    db.commit()
    return _answer(db, member, response)


@router.get(
    "/members/{member_id}/personal-data",
    responses={200: {"description": "one JSON document of everything held about the member"}},
)
def personal_data(member_id: RowId, db: DbDep, stamp: AdminStamp) -> JSONResponse:
    """Admins only: everything held about the member (record, cards, flags, huts,
    contacts, loans, reservations, door sessions, reminders, audit entries), as a file."""
    with staff_action():
        document = member_privacy.personal_data(db, member_id, now=stamp.at)
    stamp.record(db, action="member.export", entity="member", entity_id=member_id)
    db.commit()
    filename = f"member-{member_id}-personal-data.json"
    return JSONResponse(
        document,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/members/{member_id}/erase")
def erase_member(member_id: RowId, db: DbDep, stamp: AdminStamp, response: Response) -> MemberStaff:
    """Admins only: a member who left and has no open loan loses name, flat, phone,
    contacts, cards, flags and huts, here and in the audit log; the loans stay (409 with
    what is missing otherwise)."""
    with staff_action():
        member = member_privacy.erase(db, member_id, stamp=stamp)
    db.commit()
    return _answer(db, member, response)


# Cards.

CARD_SORTS = {"uid": Card.uid, "bound_at": Card.bound_at, "member": Card.member_id}


@router.get("/cards", tags=["cards"], dependencies=[ViewerOnly])
def list_cards(
    db: DbDep,
    page: PageDep,
    q: CardSearchText = None,
    state: Annotated[CardStatus | None, Query()] = None,
    member: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Listing[CardListed]:
    """Cards with their member; sort by uid, bound_at or member."""
    query = select(Card).options(selectinload(Card.member))
    if q:
        query = query.where(Card.uid.like(members.containing(q.upper()), escape="\\"))
    if state is not None:
        query = query.where(Card.state == state)
    if member is not None:
        query = query.where(Card.member_id == member)
    query = sorted_by(query, page.sort, CARD_SORTS, default="uid")
    rows, total = page_of(db, query, page)
    return listing([CardListed.of(card) for card in rows], total, page)
