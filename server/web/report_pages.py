"""The monthly reports in the console (``/console/reports``, staff and admins): the kept
reports, newest month first, each PDF and its CSV to download; and a form to build one
now (a month, a hut or the district, both languages or one), kept like the monthly send's.
Building is a staff write, audited (server.reports.service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.report_files import TEXT_NO_HUT, TEXT_NO_REPORT, file_response
from server.reminders.zones import hut_zone
from server.reports import service
from server.reports.build import UnknownHutError
from server.reports.figures import Month, MonthError
from server.storage import report_queries, report_store
from server.web.forms import ConsoleForm, FormErrors
from server.web.guard import PageStaff
from server.web.language import page_language
from server.web.rendering import render, translator
from toolhut.i18n import LANGUAGES, N_

router = APIRouter(
    prefix="/console/reports", default_response_class=HTMLResponse, include_in_schema=False
)

PATH = "/console/reports"
LANGUAGE_NAMES = {"zh_CN": N_("Chinese"), "en": N_("English")}
BOTH = "both"
TEXT_BAD_MONTH = N_("Write a month as 2026-11.")
TEXT_NO_LANGUAGE = N_("Choose Chinese, English or both.")
TEXT_BUILT = N_("The report is built and kept below.")


def _page(
    request: Request,
    principal: Principal,
    db: DbDep,
    *,
    settings: Any,
    now: Any,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> HTMLResponse:
    reports, total = report_store.kept(db)
    huts = report_queries.huts(db, None)
    default = Month.of(now.astimezone(hut_zone(settings.reports.timezone)).date()).previous()
    base = {
        "reports": reports,
        "total": total,
        "huts": {hut_id: name for hut_id, name, _zone in huts},
        "hut_options": [("", N_("the whole district"))] + [(h, f"{n} ({h})") for h, n, _ in huts],
        "language_options": [(BOTH, N_("Chinese and English"))]
        + [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "language_names": LANGUAGE_NAMES,
        "zone": hut_zone(settings.reports.timezone),
        "shown": {"month": str(default), "hut": "", "language": BOTH},
        "errors": FormErrors(),
    }
    return render(
        request,
        "console/reports.html",
        {**base, **context},
        principal=principal,
        status_code=status_code,
    )


@router.get("")
def reports_page(
    request: Request,
    principal: PageStaff,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    built: int | None = None,
) -> HTMLResponse:
    return _page(request, principal, db, settings=settings, now=now, done=built is not None)


@router.post("")
def build_report(
    request: Request,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    shown = {key: str(form.get(key) or "").strip() for key in ("month", "hut", "language")}
    errors = FormErrors()
    month: Month | None = None
    try:
        month = Month.parse(shown["month"])
    except MonthError:
        errors.add("month", TEXT_BAD_MONTH)
    language = shown["language"] or BOTH
    if language != BOTH and language not in LANGUAGES:
        errors.add("language", TEXT_NO_LANGUAGE)
    if month is not None and not errors:
        try:
            built = service.build_and_keep(
                db,
                month=month,
                hut_id=shown["hut"] or None,
                now=now,
                actor=actor_of(principal, request),
                languages=list(LANGUAGES) if language == BOTH else [language],
                district_zone=settings.reports.timezone,
            )
        except UnknownHutError:
            errors.add("hut", TEXT_NO_HUT)
        else:
            db.commit()
            first = min(built.kept_ids.values())
            return RedirectResponse(f"{PATH}?built={first}", status.HTTP_303_SEE_OTHER)
    db.rollback()
    return _page(
        request,
        principal,
        db,
        settings=settings,
        now=now,
        shown=shown,
        errors=errors,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.get("/{report_id}.{kind}")
def download(
    report_id: str, kind: str, request: Request, principal: PageStaff, db: DbDep
) -> Response:
    found = (
        report_store.kept_file(db, int(report_id), kind)
        if report_id.isdigit() and len(report_id) < 10
        else None
    )
    if found is None:
        return render(
            request,
            "console/error.html",
            {"message": translator(page_language(request))(TEXT_NO_REPORT)},
            principal=principal,
            status_code=status.HTTP_404_NOT_FOUND,
        )
    info, data = found
    return file_response(info, kind, data)
