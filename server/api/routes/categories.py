"""Categories with their loan policies, and the rules by member flag (60+: longer loans).
Staff read and edit them (edits versioned); the rules use an edit from the next step on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from sqlalchemy import select

from server.api.auth import StaffDep, ViewerOnly, actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.record_schemas import CategoryRecord, FlagRuleRecord, FlagRules
from server.api.versioning import expected_version, with_etag
from server.records import categories
from server.records.categories import CategoryFields, CategoryUpdate, FlagRuleFields
from server.records.fields import CATEGORY_KEY_PATTERN
from server.storage.models import ItemCategory

router = APIRouter(prefix="/api/v1", tags=["categories"])

CategoryPath = Annotated[str, Path(pattern=CATEGORY_KEY_PATTERN)]


_SORTS = {
    "key": ItemCategory.key,
    "name_zh": ItemCategory.name_zh,
    "name_en": ItemCategory.name_en,
    "loan_days": ItemCategory.loan_days,
}


@router.get("/categories", dependencies=[ViewerOnly])
def list_categories(db: DbDep, page: PageDep) -> Listing[CategoryRecord]:
    query = sorted_by(select(ItemCategory), page.sort, _SORTS, default="key")
    rows, total = page_of(db, query, page)
    return listing([CategoryRecord.of(row) for row in rows], total, page)


@router.get("/categories/{key}", dependencies=[ViewerOnly])
def get_category(key: CategoryPath, db: DbDep, response: Response) -> CategoryRecord:
    with staff_action():
        row = categories.get(db, key)
    with_etag(response, row.version)
    return CategoryRecord.of(row)


@router.post("/categories", status_code=status.HTTP_201_CREATED)
def create_category(
    body: CategoryFields, request: Request, principal: StaffDep, db: DbDep, now: NowDep
) -> CategoryRecord:
    with staff_action():
        row = categories.create(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return CategoryRecord.of(row)


@router.patch("/categories/{key}")
def edit_category(
    key: CategoryPath,
    body: CategoryUpdate,
    request: Request,
    response: Response,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> CategoryRecord:
    expected = expected_version(request, body.version)
    with staff_action():
        row = categories.update(
            db, key, body, expected=expected, actor=actor_of(principal, request), now=now
        )
    db.commit()
    with_etag(response, row.version)
    return CategoryRecord.of(row)


def _flag_rules(db: DbDep) -> FlagRules:
    rows = [FlagRuleRecord.of(row) for row in categories.flag_rules(db)]
    return FlagRules(data=rows, count=len(rows))


@router.get("/flag-rules", dependencies=[ViewerOnly])
def list_flag_rules(db: DbDep) -> FlagRules:
    """Extra loan days by member flag (senior: members aged 60+)."""
    return _flag_rules(db)


@router.put("/flag-rules")
def replace_flag_rules(
    body: list[FlagRuleFields], request: Request, principal: StaffDep, db: DbDep, now: NowDep
) -> FlagRules:
    """The whole list: a flag left out gets no extra days."""
    with staff_action():
        categories.replace_flag_rules(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _flag_rules(db)
