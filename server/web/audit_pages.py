"""The audit log in the console (``/console/audit``, admins only): every staff write, who,
when, what, before and after; newest first, narrowed by actor, action and dates (days in
the district's time zone), a page at a time in SQL. The same query as
server/api/routes/audit.py (server.storage.staff_queries). Read-only."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse

from server.api.deps import DbDep
from server.api.listing import PageRequest, page_of
from server.storage.models import DEFAULT_TIMEZONE
from server.storage.staff_queries import AuditFilter, audit_entries, newest_first
from server.web.forms import FormErrors
from server.web.guard import PageAdmin
from server.web.paging import DEFAULT_LIMIT, Page
from server.web.rendering import render
from toolhut.i18n import N_

router = APIRouter(
    prefix="/console/audit", default_response_class=HTMLResponse, include_in_schema=False
)

ZONE = ZoneInfo(DEFAULT_TIMEZONE)
MAX_TEXT = 128  # the log's actor column
TEXT_BAD_DATE = N_("Write a date as 2026-11-30.")
TEXT_TOO_LONG = N_("At most {count} characters.")
TEXT_DATES_REVERSED = N_("The last day is before the first.")
TEXT_BAD_OFFSET = N_("That page number is not valid; showing the first page.")


def _day(raw: str, name: str, errors: FormErrors) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.add(name, TEXT_BAD_DATE)
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZONE)


def change_of(entry: Any) -> str:
    """Before and after, one line each, for the table."""
    parts = []
    for label, value in (("-", entry.before), ("+", entry.after)):
        if value is not None:
            parts.append(f"{label} {json.dumps(value, ensure_ascii=False, sort_keys=True)}")
    return "\n".join(parts)


@router.get("")
def audit_page(request: Request, principal: PageAdmin, db: DbDep) -> HTMLResponse:
    params = request.query_params
    errors = FormErrors()
    texts = {}
    for name in ("actor", "action"):
        value = (params.get(name) or "").strip()
        if len(value) > MAX_TEXT:
            errors.add(name, TEXT_TOO_LONG)
            value = ""
        texts[name] = value
    first = _day((params.get("since") or "").strip(), "since", errors)
    last = _day((params.get("until") or "").strip(), "until", errors)
    if first and last and last < first:
        errors.add("until", TEXT_DATES_REVERSED)
        last = None
    raw_offset = params.get("offset") or "0"
    offset = int(raw_offset) if raw_offset.isdigit() and len(raw_offset) < 9 else 0
    if offset == 0 and raw_offset != "0":
        errors.add(None, TEXT_BAD_OFFSET)
    wanted = AuditFilter(
        actor=texts["actor"] or None,
        action=texts["action"] or None,
        since=_start_of(first) if first else None,
        until=_start_of(last + timedelta(days=1)) if last else None,
    )
    request_page = PageRequest(limit=DEFAULT_LIMIT, offset=offset, sort=None)
    rows, total = page_of(db, newest_first(audit_entries(wanted)), request_page)
    shown = {
        "actor": texts["actor"],
        "action": texts["action"],
        "since": first.isoformat() if first else "",
        "until": last.isoformat() if last else "",
    }
    return render(
        request,
        "console/audit.html",
        {
            "entries": rows,
            "page": Page(offset=offset, limit=DEFAULT_LIMIT, total=total),
            "shown": shown,
            "base_query": urlencode({k: v for k, v in shown.items() if v}),
            "errors": errors,
            "max_text": MAX_TEXT,
            "zone": ZONE,
            "change_of": change_of,
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status.HTTP_200_OK,
    )
