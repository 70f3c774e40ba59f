"""The console's supplies: each hut's consumables with what is left and the level to
restock at, or only those low on stock, or only the batches expiring soon (the
dashboard's counts link here); for staff, a delivery recorded against a supply.

The lists are the API's (storage.consumables: stock, low_stock, expiring_batches, as GET
/api/v1/supplies), a district's supplies are a few hundred rows, paged here; a delivery is
records.supplies.deliver, as POST /api/v1/supplies/{tag}/deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.records import supplies
from server.records.supplies import DeliveryFields
from server.storage import consumables
from server.storage.models import Hut
from server.web.forms import ConsoleForm, errors_of
from server.web.guard import PageStaff, PageViewer
from server.web.language import page_language
from server.web.list_query import ListQuery, back_to
from server.web.paging import Page
from server.web.rendering import render
from toolhut.i18n import N_

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

LIST = "/console/supplies"
STATES = {
    "all": N_("All supplies"),
    "low": N_("Low on stock"),
    "expiring": N_("Expiring within 30 days"),
}
TEXT_DELIVERED = N_("The delivery is recorded.")


def _page(
    request: Request,
    principal: Principal,
    db: Session,
    now: datetime,
    params: Mapping[str, str],
    *,
    row_errors: Mapping[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    huts = {hut.id: hut.name for hut in db.scalars(select(Hut).order_by(Hut.id))}
    query = ListQuery(params)
    state = query.choice("state", STATES) or "all"
    hut = query.choice("hut", huts)
    offset, limit = query.window()
    rows: list[Any]
    if state == "expiring":
        rows = consumables.expiring_batches(db, now, hut_id=hut)
    elif state == "low":
        rows = consumables.low_stock(db, hut_id=hut)
    else:
        rows = consumables.stock(db, hut_id=hut)
    page = Page.of(offset, limit, len(rows))
    kept = {key: value for key, value in (("state", state), ("hut", hut)) if value}
    return render(
        request,
        "console/supplies/list.html",
        {
            "rows": rows[page.offset : page.offset + page.limit],
            "page": page,
            "state": state,
            "hut": hut,
            "states": list(STATES.items()),
            "huts": list(huts.items()),
            "hut_names": huts,
            "errors": query.errors,
            "base_query": urlencode(kept),
            "back": urlencode({**kept, **({"offset": page.offset} if page.offset else {})}),
            "done": TEXT_DELIVERED if params.get("done") == "delivered" else None,
            "row_errors": row_errors or {},
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if query.errors else status_code,
    )


@router.get("/supplies")
def supplies_page(request: Request, principal: PageViewer, db: DbDep, now: NowDep) -> HTMLResponse:
    return _page(request, principal, db, now, request.query_params)


@router.post("/supplies/{tag}/deliveries")
def record_delivery(
    request: Request, tag: str, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    """A delivery of ``tag``: its quantity and, if it has one, its expiry date."""
    back = back_to(form, ("state", "hut", "offset"))
    values = {
        "quantity": form.get("quantity") or None,
        "expires_on": form.get("expires_on") or None,
    }
    try:
        fields = DeliveryFields.model_validate(values)
        with staff_action():
            supplies.deliver(db, tag, fields, actor=actor_of(principal, request), now=now)
        db.commit()
    except (ValidationError, HTTPException, RequestValidationError) as exc:
        db.rollback()
        found = errors_of(exc, page_language(request))
        messages = dict(found.fields)
        if found.general:
            messages["quantity"] = found.general[0]
        return _page(
            request,
            principal,
            db,
            now,
            back,
            row_errors={tag: messages},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return RedirectResponse(
        f"{LIST}?{urlencode({**back, 'done': 'delivered'})}", status.HTTP_303_SEE_OTHER
    )
