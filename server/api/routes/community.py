"""The community's side for staff: partner organisations (城市治理合伙人) and
micro-wishes (微心愿) through 提议办评: enter one (from paper, WeChat, the hotline),
add a resident's support, record the meeting's deliberation, how it was handled, and the
residents' ratings. Signed-in staff read them (a wish names its proposer's member id);
staff write them, each step audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.api.auth import StaffDep, ViewerOnly, actor_of
from server.api.community_schemas import (
    PartnerDetail,
    PartnerRecord,
    RatingRecord,
    WishDetail,
    WishRecord,
)
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.params import RowId
from server.api.versioning import expected_version, with_etag
from server.domain.wishes import WishStatus
from server.records import partners, wishes
from server.records.partners import PartnerFields, PartnerUpdate
from server.records.wishes import (
    DeliberationFields,
    HandlingFields,
    RatingFields,
    SupportFields,
    WishFields,
)
from server.storage.wish_models import Partner, Wish, WishSupport

router = APIRouter(prefix="/api/v1", tags=["community"])

_PARTNER_SORTS = {"name": Partner.name, "id": Partner.id, "created_at": Partner.created_at}
_WISH_SORTS = {"proposed_at": Wish.proposed_at, "id": Wish.id, "status": Wish.status}


@router.get("/partners", dependencies=[ViewerOnly])
def list_partners(
    db: DbDep, page: PageDep, active: Annotated[bool | None, Query()] = None
) -> Listing[PartnerRecord]:
    query = select(Partner)
    if active is not None:
        query = query.where(Partner.active.is_(active))
    rows, total = page_of(db, sorted_by(query, page.sort, _PARTNER_SORTS, default="name"), page)
    return listing([PartnerRecord.of(row) for row in rows], total, page)


@router.get("/partners/{partner_id}", dependencies=[ViewerOnly])
def get_partner(partner_id: RowId, db: DbDep, response: Response) -> PartnerDetail:
    with staff_action():
        row = partners.get(db, partner_id)
    items, fulfilled = partners.contributions(db, partner_id)
    with_etag(response, row.version)
    return PartnerDetail(
        **PartnerRecord.of(row).model_dump(),
        donated_items=[item.tag for item in items],
        fulfilled_wishes=[wish.id for wish in fulfilled],
    )


@router.post("/partners", status_code=status.HTTP_201_CREATED)
def create_partner(
    body: PartnerFields, request: Request, principal: StaffDep, db: DbDep, now: NowDep
) -> PartnerRecord:
    with staff_action():
        row = partners.create(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return PartnerRecord.of(row)


@router.patch("/partners/{partner_id}")
def edit_partner(
    partner_id: RowId, body: PartnerUpdate, request: Request, response: Response,
    principal: StaffDep, db: DbDep, now: NowDep,
) -> PartnerRecord:  # fmt: skip
    expected = expected_version(request, body.version)
    with staff_action():
        row = partners.update(
            db, partner_id, body, expected=expected, actor=actor_of(principal, request), now=now
        )
    db.commit()
    with_etag(response, row.version)
    return PartnerRecord.of(row)


def _support_counts(db: Session, ids: list[int]) -> dict[int, int]:
    query = (
        select(WishSupport.wish_id, func.count())
        .where(WishSupport.wish_id.in_(ids))
        .group_by(WishSupport.wish_id)
    )
    return {wish_id: n for wish_id, n in db.execute(query)}


def _detail(db: Session, wish: Wish) -> WishDetail:
    supporter_ids = wishes.supporters(db, wish.id)
    ratings = [RatingRecord.of(row) for row in wishes.ratings(db, wish.id)]
    average = sum(r.score for r in ratings) / len(ratings) if ratings else None
    return WishDetail(
        **WishRecord.of(wish, supporters=len(supporter_ids)).model_dump(),
        supporter_ids=supporter_ids,
        ratings=ratings,
        average_score=average,
    )


@router.get("/wishes", dependencies=[ViewerOnly])
def list_wishes(
    db: DbDep,
    page: PageDep,
    wish_status: Annotated[WishStatus | None, Query(alias="status")] = None,
    hut: Annotated[str | None, Query(max_length=64)] = None,
) -> Listing[WishRecord]:
    query = select(Wish)
    if wish_status is not None:
        query = query.where(Wish.status == wish_status)
    if hut is not None:
        query = query.where(Wish.hut_id == hut)
    rows, total = page_of(db, sorted_by(query, page.sort, _WISH_SORTS, default="-id"), page)
    counts = _support_counts(db, [row.id for row in rows])
    data = [WishRecord.of(row, supporters=counts.get(row.id, 0)) for row in rows]
    return listing(data, total, page)


@router.get("/wishes/{wish_id}", dependencies=[ViewerOnly])
def get_wish(wish_id: RowId, db: DbDep) -> WishDetail:
    with staff_action():
        return _detail(db, wishes.get(db, wish_id))


@router.post("/wishes", status_code=status.HTTP_201_CREATED)
def create_wish(
    body: WishFields, request: Request, principal: StaffDep, db: DbDep, now: NowDep
) -> WishDetail:
    """提: a wish staff enter for a resident (from paper, WeChat, the hotline, a visit)."""
    with staff_action():
        wish = wishes.create(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _detail(db, wish)


@router.post("/wishes/{wish_id}/supports")
def support_wish(
    wish_id: RowId, body: SupportFields, request: Request, principal: StaffDep, db: DbDep,
    now: NowDep,
) -> WishDetail:  # fmt: skip
    """Another resident wants it too (once each; again changes nothing)."""
    with staff_action():
        wishes.support(db, wish_id, body, actor=actor_of(principal, request), now=now)
        db.commit()
        return _detail(db, wishes.get(db, wish_id))


@router.post("/wishes/{wish_id}/deliberation")
def deliberate_wish(
    wish_id: RowId, body: DeliberationFields, request: Request, principal: StaffDep,
    db: DbDep, now: NowDep,
) -> WishDetail:  # fmt: skip
    """议: the meeting's date and what it decided."""
    with staff_action():
        wish = wishes.deliberate(db, wish_id, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _detail(db, wish)


@router.post("/wishes/{wish_id}/handling")
def handle_wish(
    wish_id: RowId, body: HandlingFields, request: Request, principal: StaffDep, db: DbDep,
    now: NowDep,
) -> WishDetail:  # fmt: skip
    """办: bought, donated by a partner (``partner_id``), lent by a neighbour, or declined
    with the reason (``note``); ``item``: the tag of what is now in the inventory."""
    with staff_action():
        wish = wishes.handle(db, wish_id, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _detail(db, wish)


@router.post("/wishes/{wish_id}/ratings")
def rate_wish(
    wish_id: RowId, body: RatingFields, request: Request, principal: StaffDep, db: DbDep,
    now: NowDep,
) -> WishDetail:  # fmt: skip
    """评: the proposer's or a supporter's rating, 1 to 5 (from paper or the meeting)."""
    with staff_action():
        wish = wishes.rate(db, wish_id, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _detail(db, wish)
