"""The console's community side: micro-wishes (微心愿) through 提议办评, and the partner
organisations (城市治理合伙人). Staff enter a wish that came on paper, WeChat or the
hotline, add a resident's support, and take each step on the wish's page: the meeting's
deliberation, how it was handled, the residents' ratings. Every write is the API's own
(server.records.wishes and .partners inside ``staff_action``), so a page and the API
refuse the same things with the same words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep
from server.domain.wishes import OUTCOME_NAMES, STATUS_NAMES, WishChannel
from server.records import partners, wishes
from server.records.partners import PartnerFields, PartnerUpdate
from server.records.wishes import (
    DeliberationFields,
    HandlingFields,
    RatingFields,
    SupportFields,
    WishFields,
)
from server.staff_actions import NotFoundError
from server.storage.models import Hut, Item, Member
from server.storage.wish_models import Partner, Wish
from server.web.form_writes import filled, written
from server.web.forms import ConsoleForm, FormErrors
from server.web.guard import PageNotFound, PageStaff, PageViewer
from server.web.list_query import ListQuery
from server.web.local_time import shown
from server.web.members_pages import row_id
from server.web.paging import Page
from server.web.rendering import render
from toolhut.i18n import N_

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

CHANNEL_NAMES = {
    WishChannel.PAPER: N_("paper (the wish box, a form)"),
    WishChannel.WECHAT: N_("WeChat"),
    WishChannel.HOTLINE: N_("hotline"),
    WishChannel.VISIT: N_("home visit"),
    WishChannel.MEETING: N_("at the meeting"),
    WishChannel.PHONE: N_("the resident's phone"),
}
TEXT_NO_WISH = N_("There is no such wish.")
TEXT_NO_PARTNER = N_("There is no such partner organisation.")
TEXT_PARTNER_STALE = N_(
    "Someone else saved this partner organisation while you edited it: here are its current "
    "values. Make your change again."
)
DONE = {
    "created": N_("The wish is entered."),
    "supported": N_("The support is recorded."),
    "deliberated": N_("The meeting's deliberation is recorded."),
    "handled": N_("How it was handled is recorded."),
    "rated": N_("The rating is recorded."),
    "partner": N_("The partner organisation is saved."),
}

# Each step's form: its fields model, the records function, its "done" key.
Step = tuple[type[BaseModel], Callable[..., Any], str]
STEPS: dict[str, Step] = {
    "supports": (SupportFields, wishes.support, "supported"),
    "deliberation": (DeliberationFields, wishes.deliberate, "deliberated"),
    "handling": (HandlingFields, wishes.handle, "handled"),
    "ratings": (RatingFields, wishes.rate, "rated"),
}


def _done(request: Request) -> str | None:
    """The notice after a write (the redirect's ``done``), or None."""
    return DONE.get(request.query_params.get("done", ""))


def _huts(db: Session) -> dict[str, str]:
    return {hut.id: hut.name for hut in db.scalars(select(Hut).order_by(Hut.id))}


def _names(db: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(Member.id, Member.name, Member.building_unit).where(Member.id.in_(ids))
    return {i: f"{name} · {unit}" if unit else name for i, name, unit in db.execute(query)}


def _list_page(
    request: Request, principal: Principal, db: Session, *, form: Mapping[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> HTMLResponse:  # fmt: skip
    huts = _huts(db)
    query = ListQuery(request.query_params)
    state = query.choice("status", {s.value: name for s, name in STATUS_NAMES.items()})
    hut = query.choice("hut", huts)
    offset, limit = query.window()
    rows = select(Wish)
    if state:
        rows = rows.where(Wish.status == state)
    if hut:
        rows = rows.where(Wish.hut_id == hut)
    total = db.scalar(select(func.count()).select_from(rows.subquery())) or 0
    page = Page.of(offset, limit, total)
    found = list(db.scalars(rows.order_by(Wish.id.desc()).offset(page.offset).limit(page.limit)))
    counts = wishes.support_counts(db, [w.id for w in found])
    kept = {key: value for key, value in (("status", state), ("hut", hut)) if value}
    return render(
        request,
        "console/community/wishes.html",
        {
            "rows": found, "supporters": counts, "page": page, "state": state, "hut": hut,
            "states": [(s.value, name) for s, name in STATUS_NAMES.items()],
            "status_names": STATUS_NAMES, "huts": list(huts.items()), "hut_names": huts,
            "channels": [(c.value, name) for c, name in CHANNEL_NAMES.items()],
            "errors": query.errors, "base_query": urlencode(kept), "when": shown,
            "form": form or {}, "form_errors": errors, "done": _done(request),
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors or query.errors else 200,
    )  # fmt: skip


@router.get("/wishes")
def wishes_page(request: Request, principal: PageViewer, db: DbDep) -> HTMLResponse:
    return _list_page(request, principal, db)


@router.post("/wishes")
def enter_wish(
    request: Request, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    """A wish that came on paper, by WeChat, the hotline or a visit."""
    actor = actor_of(principal, request)
    wish, errors = written(
        request,
        db,
        WishFields,
        filled(form, tuple(WishFields.model_fields)),
        lambda fields: wishes.create(db, fields, actor=actor, now=now),
    )
    if errors:
        return _list_page(request, principal, db, form=form, errors=errors)
    return RedirectResponse(f"/console/wishes/{wish.id}?done=created", status.HTTP_303_SEE_OTHER)


def _wish_page(
    request: Request, principal: Principal, db: Session, wish_id: int, *,
    step: str | None = None, form: Mapping[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> HTMLResponse:  # fmt: skip
    try:
        wish = wishes.get(db, wish_id)
    except NotFoundError:
        raise PageNotFound(TEXT_NO_WISH, principal=principal) from None
    supporter_ids = wishes.supporters(db, wish.id)
    ratings = wishes.ratings(db, wish.id)
    raters = [i for i in (wish.proposed_by_id, *supporter_ids) if i is not None]
    names = _names(db, {*raters, *(r.member_id for r in ratings)})
    partner = db.get(Partner, wish.partner_id) if wish.partner_id is not None else None
    active = db.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.name))
    return render(
        request,
        "console/community/wish.html",
        {
            "wish": wish, "supporter_ids": supporter_ids, "ratings": ratings, "names": names,
            "raters": [(i, names.get(i, str(i))) for i in raters], "partner": partner,
            "partners": [(p.id, p.name) for p in active], "hut_names": _huts(db),
            "status_names": STATUS_NAMES, "outcome_names": OUTCOME_NAMES,
            "outcomes": list(OUTCOME_NAMES.items()), "channel_names": CHANNEL_NAMES,
            "scores": [(n, str(n)) for n in range(5, 0, -1)], "when": shown,
            "item": db.get(Item, wish.item_id) if wish.item_id is not None else None,
            "step": step, "form": form or {}, "form_errors": errors,
            "done": _done(request),
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else 200,
    )  # fmt: skip


def _wish_id(text: str, principal: Principal) -> int:
    found = row_id(text)
    if found is None:
        raise PageNotFound(TEXT_NO_WISH, principal=principal)
    return found


@router.get("/wishes/{wish_id}")
def wish_page(request: Request, wish_id: str, principal: PageViewer, db: DbDep) -> HTMLResponse:
    return _wish_page(request, principal, db, _wish_id(wish_id, principal))


@router.post("/wishes/{wish_ref}/{step}")
def wish_step(
    request: Request, wish_ref: str, step: str, form: ConsoleForm, principal: PageStaff,
    db: DbDep, now: NowDep,
) -> Response:  # fmt: skip
    """One of the wish's steps: a support, the deliberation, the handling, a rating."""
    wish_id = _wish_id(wish_ref, principal)
    if step not in STEPS:
        raise PageNotFound(TEXT_NO_WISH, principal=principal)
    model, take, done = STEPS[step]
    actor = actor_of(principal, request)
    _, errors = written(
        request, db, model, filled(form, tuple(model.model_fields)),
        lambda fields: take(db, wish_id, fields, actor=actor, now=now),
    )  # fmt: skip
    if errors:
        return _wish_page(request, principal, db, wish_id, step=step, form=form, errors=errors)
    return RedirectResponse(f"/console/wishes/{wish_id}?done={done}", status.HTTP_303_SEE_OTHER)


def _partners_page(
    request: Request, principal: Principal, db: Session, *, form: Mapping[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> HTMLResponse:  # fmt: skip
    rows = list(db.scalars(select(Partner).order_by(Partner.active.desc(), Partner.name)))
    return render(
        request,
        "console/community/partners.html",
        {
            "rows": rows, "form": form or {}, "form_errors": errors, "when": shown,
            "done": _done(request),
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else 200,
    )  # fmt: skip


@router.get("/partners")
def partners_page(request: Request, principal: PageViewer, db: DbDep) -> HTMLResponse:
    return _partners_page(request, principal, db)


@router.post("/partners")
def add_partner(
    request: Request, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    actor = actor_of(principal, request)
    row, errors = written(
        request, db, PartnerFields, filled(form, ("name", "services", "contact", "notes")),
        lambda fields: partners.create(db, fields, actor=actor, now=now),
    )  # fmt: skip
    if errors:
        return _partners_page(request, principal, db, form=form, errors=errors)
    return RedirectResponse(f"/console/partners/{row.id}?done=partner", status.HTTP_303_SEE_OTHER)


def _partner(partner_ref: str, db: Session, principal: Principal) -> Partner:
    partner_id = row_id(partner_ref)
    row = db.get(Partner, partner_id) if partner_id is not None else None
    if row is None:
        raise PageNotFound(TEXT_NO_PARTNER, principal=principal)
    return row


def _partner_page(
    request: Request, principal: Principal, db: Session, row: Partner, *,
    form: Mapping[str, Any] | None = None, errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    """The partner, what it gave, and (for staff) its edit form: the record as it is now,
    or after a refused edit what was typed, with the messages."""
    items, fulfilled = partners.contributions(db, row.id)
    current = {name: getattr(row, name) for name in partners.FIELDS} | {"version": row.version}
    return render(
        request,
        "console/community/partner.html",
        {
            "partner": row, "items": items, "wishes": fulfilled, "status_names": STATUS_NAMES,
            "when": shown, "done": _done(request), "edit": form or current,
            "form_errors": errors,
        },
        principal=principal,
        status_code=status_code,
    )  # fmt: skip


@router.get("/partners/{partner_ref}")
def partner_page(
    request: Request, partner_ref: str, principal: PageViewer, db: DbDep
) -> HTMLResponse:
    return _partner_page(request, principal, db, _partner(partner_ref, db, principal))


@router.post("/partners/{partner_ref}/edit")
def edit_partner(
    request: Request, partner_ref: str, form: ConsoleForm, principal: PageStaff, db: DbDep,
    now: NowDep,
) -> Response:  # fmt: skip
    """Name, services, contact, notes, active; refused if someone saved it meanwhile (the
    version the form was read at), then the current values are shown again."""
    row = _partner(partner_ref, db, principal)
    if filled(form, ("version",)).get("version") != str(row.version):
        return _partner_page(
            request, principal, db, row, errors=FormErrors(general=[TEXT_PARTNER_STALE]),
            status_code=status.HTTP_409_CONFLICT,
        )  # fmt: skip
    texts = ("name", "services", "contact", "notes")
    typed = dict.fromkeys(texts, "") | filled(form, texts)  # a cleared one is cleared
    values = {**typed, "active": form.get("active") == "1", "version": row.version}
    actor, expected = actor_of(principal, request), row.version
    _, errors = written(
        request, db, PartnerUpdate, values,
        lambda fields: partners.update(
            db, row.id, fields, expected=expected, actor=actor, now=now
        ),
    )  # fmt: skip
    if errors:
        return _partner_page(
            request, principal, db, row, form=values, errors=errors,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )  # fmt: skip
    return RedirectResponse(f"/console/partners/{row.id}?done=partner", status.HTTP_303_SEE_OTHER)
