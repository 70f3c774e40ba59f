"""The audit log, for admins: every staff write, who, when, what, before and after.
Read-only: no route changes an entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from server.api.account_schemas import AuditOut
from server.api.auth import AdminOnly
from server.api.deps import DbDep
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.storage.staff_models import AuditEntry
from server.storage.staff_queries import AuditFilter, audit_entries, newest_first

router = APIRouter(prefix="/api/v1", tags=["audit"], dependencies=[AdminOnly])

_SORTS = {"at": AuditEntry.at, "id": AuditEntry.id}
Text = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("/audit")
def list_audit(
    db: DbDep,
    page: PageDep,
    entity: Text = None,
    entity_id: Text = None,
    actor: Text = None,
    action: Text = None,
    since: Annotated[
        AwareDatetime | None, Query(description="at or after, ISO 8601 with zone")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="before, ISO 8601 with zone")] = None,
) -> Listing[AuditOut]:
    """Newest first unless ``sort`` says otherwise (``sort=at``: oldest first)."""
    wanted = AuditFilter(entity, entity_id, actor, action, since, until)
    query = audit_entries(wanted)
    sort = page.sort or "-at"
    query = sorted_by(query, sort, _SORTS, default="id")  # refuses an unknown column
    if sort == "-at":
        query = newest_first(query)
    elif sort.startswith("-"):  # entries of one instant newest first too
        query = query.order_by(None).order_by(_SORTS[sort[1:]].desc(), AuditEntry.id.desc())
    rows, total = page_of(db, query, page)
    return listing([AuditOut.of(entry) for entry in rows], total, page)
