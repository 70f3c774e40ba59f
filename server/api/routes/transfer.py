"""Spreadsheets in and out: POST a CSV or .xlsx file to import one kind of record (all rows
or none, with a report of every bad row), GET every record of a kind as CSV or .xlsx.

The upload is counted while it arrives (server.api.uploads): a file over the limit is
refused (413) without being read to its end."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from server.api.auth import StaffDep, ViewerOnly, actor_of
from server.api.deps import DbDep, NowDep
from server.api.uploads import FILE_FIELD, limits_of, read_upload, too_large_error
from server.tabular.reading import FileTooLargeError
from server.tabular.report import ImportReport
from server.tabular.runner import run_export, run_import
from server.tabular.spec import Sheet
from server.tabular.writing import Format
from toolhut.i18n import bilingual

router = APIRouter(prefix="/api/v1", tags=["import and export"])

TEXT_UNKNOWN_KIND = bilingual("no such kind of record: {kind}")

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _sheet(request: Request, kind: str) -> Sheet:
    sheets: dict[str, Sheet] = request.app.state.sheets
    sheet = sheets.get(kind)
    if sheet is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, TEXT_UNKNOWN_KIND.format(kind=kind))
    return sheet


@router.post(
    "/import/{kind}",
    openapi_extra=_UPLOAD_BODY,
    responses={
        413: {"description": "the file is over the size limit"},
        422: {
            "description": "a bad row or file (the report; nothing written), or a bad request",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/ImportReport"},
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                        ]
                    }
                }
            },
        },  # fmt: skip
    },
    response_model=ImportReport,
)
async def import_sheet(
    kind: str,
    request: Request,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
    dry_run: Annotated[bool, Query(description="check every row, write nothing")] = False,
) -> Response:
    """Import a CSV (UTF-8 or GBK, comma, tab or semicolon) or .xlsx file of ``kind``:
    every row is checked first; if any is bad, nothing is written and the answer (422)
    names each bad row's line, field and reason."""
    sheet = _sheet(request, kind)
    limits = limits_of(request)
    upload = await read_upload(request, limits)
    data, filename = upload.data, upload.filename
    actor = actor_of(principal, request)

    def work() -> ImportReport:
        try:
            report = run_import(
                db, sheet, data, filename, dry_run=dry_run, actor=actor, now=now, limits=limits
            )
        except FileTooLargeError as exc:  # pragma: no cover - _upload counted it already
            raise too_large_error(limits) from exc
        if report.ok and not dry_run:
            db.commit()
        else:
            db.rollback()
        return report

    report = await run_in_threadpool(work)
    code = status.HTTP_200_OK if report.ok else status.HTTP_422_UNPROCESSABLE_CONTENT
    return JSONResponse(jsonable_encoder(report), status_code=code)


@router.get(
    "/export/{kind}",
    dependencies=[ViewerOnly],
    response_class=Response,
    responses={
        200: {
            "content": {Format.CSV.media_type: {}, Format.XLSX.media_type: {}},
            "description": "every record of the kind, in a file that imports back",
        }
    },
)
def export_sheet(
    kind: str, request: Request, db: DbDep, now: NowDep, format: Format = Format.CSV
) -> Response:
    """Every record of ``kind`` as CSV (UTF-8 with BOM, for Excel and WPS) or .xlsx."""
    return export_file(db, _sheet(request, kind), format, now)


def export_file(db: Session, sheet: Sheet, format: Format, now: datetime) -> Response:
    """The download of every record of ``sheet``'s kind (the console's export link too)."""
    body = run_export(db, sheet, format)
    filename = f"{sheet.kind}-{now.date().isoformat()}.{format.value}"
    return Response(
        body,
        media_type=format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
