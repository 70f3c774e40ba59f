"""The console's item categories and their loan policies: the list (every policy field, the
loan days of a member flagged 60+, how many items each has) with the form to add one, and
one category's page with its edit form. Every write is the API's own
(server.records.categories inside ``staff_action``, through form_writes.written), so a page
refuses what the API refuses, with the same words, and is audited the same way
(``category.create``, ``category.update``). The ledger reads the tables at each step
(storage.policy_store.load_policy): an edit counts from the next tap or staff action on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep
from server.domain import MemberFlag
from server.records import categories
from server.records.categories import CategoryFields, CategoryUpdate
from server.records.fields import CATEGORY_KEY_PATTERN
from server.storage.models import ItemCategory
from server.storage.policy_store import load_policy, policy_columns
from server.web.form_writes import filled, written
from server.web.forms import ConsoleForm, FormErrors
from server.web.guard import PageNotFound, PageStaff, PageViewer
from server.web.rendering import render
from toolhut.i18n import N_

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

TEXTS = ("name_zh", "name_en")
NUMBERS = ("loan_days", "max_renewals", "max_per_member", "hold_hours")
TEXT_NO_CATEGORY = N_("There is no such category.")
TEXT_STALE = N_(
    "Someone else saved this category while you edited it: here are its current values. "
    "Make your change again."
)
DONE = {
    "added": N_("The category is added."),
    "saved": N_("The category is saved."),
}
_KEY = re.compile(CATEGORY_KEY_PATTERN)


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


def _path(key: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/console/categories/{key}?done={done}", status.HTTP_303_SEE_OTHER)


def _posted(form: Mapping[str, Any]) -> dict[str, Any]:
    """The policy fields as posted: a cleared one stays (and is refused as empty), the
    box for 60+ first is ticked or not."""
    names = TEXTS + NUMBERS
    return dict.fromkeys(names, "") | filled(form, names) | {"senior_first": "senior_first" in form}


def _senior_days(db: Session) -> dict[str, int]:
    """Each category's loan days for a member flagged 60+, as the ledger reckons them."""
    policy = load_policy(db)
    rows = db.scalars(select(ItemCategory.key))
    return {key: policy.loan_period(key, flags=[MemberFlag.SENIOR]).days for key in rows}


def _list_page(
    request: Request, principal: Principal, db: Session, *, form: Mapping[str, Any] | None = None,
    errors: FormErrors | None = None,
) -> HTMLResponse:  # fmt: skip
    rows = list(db.scalars(select(ItemCategory).order_by(ItemCategory.key)))
    return render(
        request,
        "console/categories/list.html",
        {
            "rows": rows, "counts": categories.item_counts(db), "senior_days": _senior_days(db),
            "form": form if form is not None else policy_columns(""), "form_errors": errors,
            "done": _done(request),
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else 200,
    )  # fmt: skip


@router.get("/categories")
def categories_page(request: Request, principal: PageViewer, db: DbDep) -> HTMLResponse:
    return _list_page(request, principal, db)


@router.post("/categories")
def add_category(
    request: Request, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    actor = actor_of(principal, request)
    values = filled(form, ("key", *TEXTS, *NUMBERS)) | {"senior_first": "senior_first" in form}
    row, errors = written(
        request, db, CategoryFields, values,
        lambda fields: categories.create(db, fields, actor=actor, now=now),
    )  # fmt: skip
    if errors:
        return _list_page(request, principal, db, form=form, errors=errors)
    return _path(row.key, "added")


def _category(key: str, db: Session, principal: Principal) -> ItemCategory:
    """The category, or the 404 page (also for a path no key can be)."""
    row = db.get(ItemCategory, key) if _KEY.fullmatch(key) else None
    if row is None:
        raise PageNotFound(TEXT_NO_CATEGORY, principal=principal)
    return row


def _category_page(
    request: Request, principal: Principal, db: Session, row: ItemCategory, *,
    form: Mapping[str, Any] | None = None, errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    """The category's policy and (for staff) its edit form: the record as it is now, or
    after a refused edit what was typed, with the messages."""
    current = {name: getattr(row, name) for name in categories.FIELDS} | {"version": row.version}
    return render(
        request,
        "console/categories/category.html",
        {
            "category": row, "items": categories.item_counts(db).get(row.key, 0),
            "senior_days": _senior_days(db).get(row.key), "edit": form or current,
            "form_errors": errors, "done": _done(request),
        },
        principal=principal,
        status_code=status_code,
    )  # fmt: skip


@router.get("/categories/{key}")
def category_page(request: Request, key: str, principal: PageViewer, db: DbDep) -> HTMLResponse:
    return _category_page(request, principal, db, _category(key, db, principal))


@router.post("/categories/{key}/edit")
def edit_category(
    request: Request, key: str, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    """Names and policy; refused if someone saved it meanwhile (the version the form was
    read at), then the current values are shown again."""
    row = _category(key, db, principal)
    if filled(form, ("version",)).get("version") != str(row.version):
        return _category_page(
            request, principal, db, row, errors=FormErrors(general=[TEXT_STALE]),
            status_code=status.HTTP_409_CONFLICT,
        )  # fmt: skip
    values = _posted(form) | {"version": row.version}
    actor, expected = actor_of(principal, request), row.version
    _, errors = written(
        request, db, CategoryUpdate, values,
        lambda fields: categories.update(
            db, row.key, fields, expected=expected, actor=actor, now=now
        ),
    )  # fmt: skip
    if errors:
        return _category_page(
            request, principal, db, _category(key, db, principal), form=values, errors=errors,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )  # fmt: skip
    return _path(row.key, "saved")
