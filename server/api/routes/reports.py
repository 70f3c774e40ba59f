"""The monthly reports for staff: the kept ones (newest month first), each one's PDF or
CSV, and building one now (kept, audited). The console's reports page does the same."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response, status

from server.api.auth import StaffDep, StaffOnly, actor_of
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing
from server.api.params import RowId
from server.api.report_files import TEXT_NO_HUT, TEXT_NO_REPORT, file_response
from server.api.report_schemas import ReportBuild, ReportRecord
from server.reports import service
from server.reports.build import UnknownHutError
from server.reports.figures import Month
from server.staff_actions import NotFoundError
from server.storage import report_store
from toolhut.i18n import bilingual

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports", dependencies=[StaffOnly])
def list_reports(db: DbDep, page: PageDep) -> Listing[ReportRecord]:
    rows, total = report_store.kept(db, limit=page.limit, offset=page.offset)
    return listing([ReportRecord.of(row) for row in rows], total, page)


@router.get(
    "/reports/{report_id}/{kind}",
    dependencies=[StaffOnly],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
def get_report_file(report_id: RowId, kind: Literal["pdf", "csv"], db: DbDep) -> Response:
    with staff_action():
        found = report_store.kept_file(db, report_id, kind)
        if found is None:
            raise NotFoundError(bilingual(TEXT_NO_REPORT))
    info, data = found
    return file_response(info, kind, data)


@router.post("/reports", status_code=status.HTTP_201_CREATED)
def build_report(
    body: ReportBuild,
    request: Request,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> list[ReportRecord]:
    with staff_action():
        try:
            built = service.build_and_keep(
                db,
                month=Month.parse(body.month),
                hut_id=body.hut,
                now=now,
                actor=actor_of(principal, request),
                languages=body.languages,
                district_zone=settings.reports.timezone,
            )
        except UnknownHutError:
            raise NotFoundError(bilingual(TEXT_NO_HUT)) from None
    db.commit()
    kept = [report_store.kept_file(db, report_id, "pdf") for report_id in built.kept_ids.values()]
    return [ReportRecord.of(found[0]) for found in kept if found is not None]
