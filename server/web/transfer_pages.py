"""Import and export in the console (``/console/transfer``): a CSV or .xlsx file of items,
supplies or members is checked first (a dry run of server.tabular.runner, as the API's
``dry_run``), its report shown row by row before anything is written; only a file with no
bad row may then be imported ("import these"), all rows or none. Each kind is exported as
CSV or .xlsx by a link. A plain form (multipart), no JavaScript needed.

The upload is read as the API reads it (server.api.uploads): a file over the import
limit (``app.state.import_limits``) is refused with a message, without being read to its
end. Between the check and the import the file waits in ``ImportStash``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep
from server.api.routes.transfer import export_file
from server.api.uploads import FILE_FIELD, limits_of, read_upload
from server.tabular.reading import too_large
from server.tabular.report import ImportReport
from server.tabular.runner import run_import
from server.tabular.spec import Sheet
from server.tabular.writing import Format
from server.web import csrf
from server.web.forms import TEXT_CSRF, ConsoleForm, FormErrors, FormRefused, errors_of
from server.web.guard import PageStaff, PageViewer
from server.web.import_stash import ImportStash
from server.web.language import page_language
from server.web.rendering import render, translator
from toolhut.i18n import N_

router = APIRouter(
    prefix="/console/transfer", default_response_class=HTMLResponse, include_in_schema=False
)

PATH = "/console/transfer"
KIND_LABELS = {"items": N_("Items"), "supplies": N_("Supplies"), "members": N_("Members")}
TEXT_CHOOSE_KIND = N_("Choose what the file holds.")
TEXT_NO_SUCH_EXPORT = N_("There is no such export.")
TEXT_GONE = N_("The checked file is no longer kept (after 15 minutes): upload it again.")


def _sheets(request: Request) -> dict[str, Sheet]:
    sheets: dict[str, Sheet] = request.app.state.sheets
    return sheets


def stash_of(request: Request) -> ImportStash:
    """The app's stash of checked files (made on first use)."""
    state = request.app.state
    if not hasattr(state, "import_stash"):
        state.import_stash = ImportStash()
    stash: ImportStash = state.import_stash
    return stash


def _page(
    request: Request,
    principal: Principal,
    *,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> HTMLResponse:
    sheets = _sheets(request)
    _ = translator(page_language(request))
    base = {
        "kinds": [(kind, KIND_LABELS.get(kind, kind)) for kind in sheets],
        "kinds_options": [(kind, _(KIND_LABELS.get(kind, kind))) for kind in sheets],
        "formats": [f.value for f in Format],
        "limit": too_large(limits_of(request)),
        "headings": {
            kind: {c.key: (c.zh, c.en) for c in sheet.columns} for kind, sheet in sheets.items()
        },
    }
    return render(
        request,
        "console/transfer.html",
        {**base, **context},
        principal=principal,
        status_code=status_code,
    )


@router.get("")
def transfer_page(
    request: Request,
    principal: PageStaff,
    imported: str | None = None,
    rows: int | None = None,
    written: int | None = None,
) -> HTMLResponse:
    done = None
    if imported in _sheets(request) and rows is not None and written is not None:
        done = {"kind": imported, "rows": max(rows, 0), "written": max(written, 0)}
    return _page(request, principal, done=done)


@router.post("")
async def check_file(request: Request, principal: PageStaff, db: DbDep, now: NowDep) -> Response:
    """The dry run: every row checked, nothing written; a clean file is kept for "import
    these"."""
    limits = limits_of(request)
    errors = FormErrors()
    try:
        upload = await read_upload(request, limits)
    except HTTPException as exc:  # over the limit
        errors.add(FILE_FIELD, str(exc.detail))
        return _page(request, principal, errors=errors, status_code=exc.status_code)
    except RequestValidationError as exc:  # no file
        return _page(request, principal, errors=errors_of(exc), status_code=422)
    if not csrf.valid(request, upload.fields.get(csrf.FIELD)):
        raise FormRefused(TEXT_CSRF)
    kind = upload.fields.get("kind", "")
    sheet = _sheets(request).get(kind)
    if sheet is None:
        errors.add("kind", TEXT_CHOOSE_KIND)
        return _page(request, principal, errors=errors, status_code=422)
    actor = actor_of(principal, request)

    def dry_run() -> ImportReport:
        try:
            return run_import(
                db, sheet, upload.data, upload.filename, dry_run=True, actor=actor, now=now,
                limits=limits,
            )  # fmt: skip
        finally:
            db.rollback()

    report = await run_in_threadpool(dry_run)
    token = None
    if report.ok:
        token = stash_of(request).keep(
            user_id=principal.user_id,
            kind=kind,
            filename=upload.filename,
            data=upload.data,
            now=now,
        )
    return _page(
        request,
        principal,
        report=report,
        kind=kind,
        token=token,
        status_code=status.HTTP_200_OK if report.ok else status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.post("/import")
def import_checked(
    request: Request, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    """Writes the checked file, all rows or none; 303 to the page, which says how many."""
    token = form.get("token")
    checked = (
        stash_of(request).take(token, user_id=principal.user_id, now=now)
        if isinstance(token, str)
        else None
    )
    if checked is None:
        errors = FormErrors()
        errors.add(None, TEXT_GONE)
        return _page(request, principal, errors=errors, status_code=status.HTTP_409_CONFLICT)
    sheet = _sheets(request)[checked.kind]
    report = run_import(
        db,
        sheet,
        checked.data,
        checked.filename,
        dry_run=False,
        actor=actor_of(principal, request),
        now=now,
        limits=limits_of(request),
    )
    if not report.ok:  # something changed since the check: nothing written
        db.rollback()
        return _page(
            request,
            principal,
            report=report,
            kind=checked.kind,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    db.commit()
    query = f"imported={checked.kind}&rows={report.rows}&written={report.written}"
    return RedirectResponse(f"{PATH}?{query}", status.HTTP_303_SEE_OTHER)


@router.get("/export/{kind}.{fmt}")
def export(
    kind: str, fmt: str, request: Request, principal: PageViewer, db: DbDep, now: NowDep
) -> Response:
    """Every record of ``kind`` as a file, for any signed-in role (as the API's export)."""
    sheet = _sheets(request).get(kind)
    if sheet is None or fmt not in {f.value for f in Format}:
        return render(
            request,
            "console/error.html",
            {"message": translator(page_language(request))(TEXT_NO_SUCH_EXPORT)},
            principal=principal,
            status_code=status.HTTP_404_NOT_FOUND,
        )
    return export_file(db, sheet, Format(fmt), now)
