"""The console's inventory: every item of every hut (filtered, searched, sorted, a page at a
time), one item's page (its record, status history, borrower and loans) with staff's edit
and status forms, and its QR label as a PDF.

The list is the API's query (records.items.search, api.item_list.sorted_items, paged in
SQL); the writes are the records code's (items.update with its version rule,
items.set_status through the rule book), inside the API's ``staff_action()``."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import actor_of, sees_personal_data
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.errors import staff_action
from server.api.item_list import sorted_items
from server.api.listing import PageRequest, page_of
from server.domain import ItemCondition, ItemStatus
from server.domain.staff_rules import SETTABLE_STATUSES
from server.records import items
from server.records.items import ItemUpdate, StatusFields
from server.staff_actions import NotFoundError
from server.storage import queries
from server.storage.models import Hut, ItemCategory
from server.storage.queries import ItemOnShelf
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PageNotFound, PageStaff, PageViewer
from server.web.language import page_language
from server.web.list_query import ListQuery
from server.web.local_time import local_time
from server.web.paging import Page
from server.web.rating_pages import item_ratings
from server.web.rendering import render, translator
from server.web.session_pages import TEXT_REQUIRED
from toolhut.contract import CONTROL_CHARS
from toolhut.i18n import N_

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

STATUS_WORDS = {
    ItemStatus.AVAILABLE: N_("Available"),
    ItemStatus.ON_LOAN: N_("On loan"),
    ItemStatus.RESERVED: N_("Held for a reservation"),
    ItemStatus.MAINTENANCE: N_("In maintenance"),
    ItemStatus.RETIRED: N_("Retired"),
    ItemStatus.LOST: N_("Lost"),
}
CONDITION_WORDS = {
    ItemCondition.OK: N_("Good"),
    ItemCondition.NEEDS_REPAIR: N_("Needs repair"),
    ItemCondition.MISSING_PART: N_("Missing a part"),
}
# The list's sort choices (the page's names) and the column each means.
SORTS = {"tag": "tag", "name": "name_zh", "status": "status", "hut": "hut", "due": "due"}
SORT_LABELS = {
    "tag": N_("Tag"),
    "name": N_("Name"),
    "status": N_("Status"),
    "hut": N_("Hut"),
    "due": N_("Due date"),
}
DESCENDING = N_("{column}, descending")
TEXT_NO_ITEM = N_("There is no item with this tag.")
TEXT_STALE = N_(
    "This item was changed by someone else while you edited it: here are its current "
    "values. Make your change again."
)
TEXT_LABEL_FAILED = N_("The label could not be made: {reason}")
DONE = {
    "saved": N_("The item's record is saved."),
    "status": N_("The item's status is changed."),
}
HISTORY_PAGE = 20
MAX_TAG = 64  # as the API's path (server.api.params.ItemTagPath)
LABEL_LAYOUT_NAME = "roll62"


def _sort_options(_: Any) -> list[tuple[str, str]]:
    ascending = [(key, _(label)) for key, label in SORT_LABELS.items()]
    return [*ascending, *((f"-{key}", _(DESCENDING, column=text)) for key, text in ascending)]


def _choices(db: Session, lang: str) -> dict[str, Any]:
    """The huts and categories the filters and the edit form offer (both are short lists)."""
    huts = db.scalars(select(Hut).order_by(Hut.id)).all()
    categories = db.scalars(select(ItemCategory).order_by(ItemCategory.key)).all()
    zh = lang == "zh_CN"
    return {
        "huts": [(hut.id, hut.name) for hut in huts],
        "hut_names": {hut.id: hut.name for hut in huts},
        "hut_zones": {hut.id: hut.timezone for hut in huts},
        "categories": [(c.key, c.name_zh if zh else c.name_en) for c in categories],
        "category_names": {c.key: (c.name_zh if zh else c.name_en) for c in categories},
    }


def _dates_by_hut(choices: dict[str, Any]) -> Any:
    """The list's date formatter: a date in its hut's time zone."""

    def when(moment: datetime | None, hut_id: str) -> str:
        return local_time(_zone_of(choices, hut_id))(moment, time=False)

    return when


def _zone_of(choices: dict[str, Any], hut_id: str) -> str | None:
    zone = choices["hut_zones"].get(hut_id)
    return None if zone is None else str(zone)


@router.get("/items")
def inventory(request: Request, principal: PageViewer, db: DbDep) -> HTMLResponse:
    """Every hut's items, a page at a time; a bad filter is named beside it (422) and the
    list shown without it."""
    lang = page_language(request)
    _ = translator(lang)
    choices = _choices(db, lang)
    query = ListQuery(request.query_params)
    hut = query.choice("hut", choices["hut_names"])
    category = query.choice("category", choices["category_names"])
    wanted = query.choice("status", [s.value for s in ItemStatus])
    search = query.search("q")
    sort_name = query.choice("sort", [*SORTS, *(f"-{key}" for key in SORTS)]) or "tag"
    offset, limit = query.window()
    descending = sort_name.startswith("-")
    column = SORTS[sort_name.removeprefix("-")]
    if column == "name_zh" and lang != "zh_CN":
        column = "name_en"
    found = items.search(
        hut=hut,
        status=None if wanted is None else ItemStatus(wanted),
        category=category,
        q=search,
    )
    ordered = sorted_items(found, f"-{column}" if descending else column)
    window = Page.of(offset, limit, 0)
    rows, total = page_of(db, ordered, PageRequest(window.limit, window.offset, None))
    page = Page.of(window.offset, window.limit, total)
    shelves = queries.on_shelves(db, rows)
    filters = {"hut": hut, "category": category, "status": wanted, "q": search}
    base = {key: value for key, value in filters.items() if value}
    base_query = urlencode({**base, "sort": sort_name})
    return render(
        request,
        "console/items/list.html",
        {
            **choices,
            "shelves": shelves,
            "page": page,
            "filters": filters,
            "sort": sort_name,
            "sort_options": _sort_options(_),
            "base_query": base_query,
            "errors": query.errors,
            "statuses": [(s.value, _(STATUS_WORDS[s])) for s in ItemStatus],
            "status_words": STATUS_WORDS,
            "personal": sees_personal_data(principal),
            "when": _dates_by_hut(choices),
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if query.errors else 200,
    )


def _find(db: Session, tag: str) -> ItemOnShelf | None:
    """The item on its shelf, or None: also for a path no tag can be (too long, a control
    character), which never reaches the database."""
    if len(tag) > MAX_TAG or CONTROL_CHARS.search(tag):
        return None
    try:
        return items.find(db, tag)
    except NotFoundError:
        return None


def _item_page(
    request: Request,
    principal: Principal,
    db: Session,
    tag: str,
    *,
    edit: dict[str, Any] | None = None,
    edit_errors: FormErrors | None = None,
    status_form: dict[str, Any] | None = None,
    status_errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The item's page; after a refused form, that form refilled with its messages."""
    lang = page_language(request)
    _ = translator(lang)
    shelf = _find(db, tag)
    if shelf is None:
        raise PageNotFound(TEXT_NO_ITEM, principal=principal)
    item = shelf.item
    choices = _choices(db, lang)
    query = ListQuery(request.query_params)
    offset, _limit = query.window()
    window = Page.of(offset, HISTORY_PAGE, 0)
    loans, total = page_of(
        db, items.loan_history(item.id), PageRequest(window.limit, window.offset, None)
    )
    values = {
        "name_zh": item.name_zh,
        "name_en": item.name_en,
        "category": item.category,
        "condition": item.condition.value,
        "notes": item.notes or "",
        "version": item.version,
    }
    done = request.query_params.get("done")
    return render(
        request,
        "console/items/detail.html",
        {
            **choices,
            "item": item,
            "loan": shelf.loan,
            "loans": loans,
            "page": Page.of(window.offset, window.limit, total),
            "history": items.status_history(db, item.id),
            "ratings": item_ratings(db, item.id),
            "edit": {**values, **(edit or {})},
            "edit_errors": edit_errors,
            "status_form": status_form or {},
            "status_errors": status_errors,
            "errors": query.errors,
            "status_words": STATUS_WORDS,
            "condition_words": CONDITION_WORDS,
            "conditions": [(c.value, CONDITION_WORDS[c]) for c in ItemCondition],
            "settable": [(s.value, STATUS_WORDS[s]) for s in ItemStatus if s in SETTABLE_STATUSES],
            "personal": sees_personal_data(principal),
            "when": local_time(_zone_of(choices, item.hut_id)),
            "done": DONE.get(done) if done else None,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/items/{tag}")
def item_page(request: Request, tag: str, principal: PageViewer, db: DbDep) -> HTMLResponse:
    """One item: its record, borrower, status history and loans; staff's forms."""
    return _item_page(request, principal, db, tag)


def _after(tag: str, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"/console/items/{quote(tag.upper())}?done={done}", status.HTTP_303_SEE_OTHER
    )


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/items/{tag}/edit")
def edit_item(
    request: Request, tag: str, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    if _find(db, tag) is None:
        return _item_page(request, principal, db, tag)
    edit = {name: _text(form, name) for name in ("name_zh", "name_en", "category", "condition")}
    edit["notes"] = _text(form, "notes")
    version = _text(form, "version")
    values: dict[str, Any] = {**edit, "notes": edit["notes"] or None}
    try:
        fields = ItemUpdate.model_validate({**values, "version": version or None})
    except ValidationError as exc:
        return _item_page(
            request,
            principal,
            db,
            tag,
            edit={**edit, "version": version},
            edit_errors=plain_errors(exc, page_language(request)),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        with staff_action():
            expected = fields.version if fields.version is not None else -1
            items.update(
                db, tag, fields, expected=expected, actor=actor_of(principal, request), now=now
            )
        db.commit()
    except (HTTPException, RequestValidationError) as exc:
        db.rollback()
        if isinstance(exc, HTTPException) and exc.status_code == status.HTTP_404_NOT_FOUND:
            return _item_page(request, principal, db, tag)
        if _stale(exc):
            errors = FormErrors()
            errors.add(None, TEXT_STALE)
            return _item_page(
                request,
                principal,
                db,
                tag,
                edit_errors=errors,
                status_code=status.HTTP_409_CONFLICT,
            )
        return _item_page(
            request,
            principal,
            db,
            tag,
            edit={**edit, "version": version},
            edit_errors=errors_of(exc),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return _after(tag, "saved")


def plain_errors(exc: ValidationError, lang: str) -> FormErrors:
    """A form's fields refused by the records code's model, in the catalogue's words; a
    refused version is the record having changed meanwhile."""
    errors = errors_of(exc, lang)
    if errors.fields.pop("version", None) is not None:
        errors.add(None, TEXT_STALE)
    return errors


def _stale(exc: HTTPException | RequestValidationError) -> bool:
    detail = getattr(exc, "detail", None)
    return isinstance(detail, dict) and detail.get("reason") == "stale_version"


@router.post("/items/{tag}/status")
def set_status(
    request: Request, tag: str, form: ConsoleForm, principal: PageStaff, db: DbDep, now: NowDep
) -> Response:
    if _find(db, tag) is None:
        return _item_page(request, principal, db, tag)
    chosen = {"status": _text(form, "status"), "reason": _text(form, "reason")}
    errors = FormErrors()
    if chosen["status"] not in {s.value for s in SETTABLE_STATUSES}:
        errors.add("status", TEXT_REQUIRED)
    if not chosen["reason"]:
        errors.add("reason", TEXT_REQUIRED)
    if not errors:
        try:
            fields = StatusFields.model_validate(chosen)
        except ValidationError as exc:
            errors = plain_errors(exc, page_language(request))
    if not errors:
        try:
            with staff_action():
                items.set_status(db, tag, fields, actor=actor_of(principal, request), now=now)
            db.commit()
            return _after(tag, "status")
        except (HTTPException, RequestValidationError) as exc:
            db.rollback()
            errors = errors_of(exc)
            code = exc.status_code if isinstance(exc, HTTPException) else 422
            return _item_page(
                request,
                principal,
                db,
                tag,
                status_form=chosen,
                status_errors=errors,
                status_code=code,
            )
    return _item_page(
        request,
        principal,
        db,
        tag,
        status_form=chosen,
        status_errors=errors,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.get("/items/{tag}/label.pdf")
def item_label(
    request: Request, tag: str, principal: PageViewer, db: DbDep, settings: SettingsDep
) -> Response:
    """The item's QR label, one 62×29 mm label as a PDF: its tag, names, hut and the
    public URL of its page; never anything about a person."""
    from labels import ItemLabel, LabelError, RollLayout, make_labels  # loads reportlab

    _ = translator(page_language(request))
    shelf = _find(db, tag)
    if shelf is None:
        raise PageNotFound(TEXT_NO_ITEM, principal=principal)
    item = shelf.item
    try:
        label = ItemLabel.for_item(
            base_url=settings.public_base_url,
            tag=item.tag,
            name_zh=item.name_zh,
            name_en=item.name_en,
            hut_name=item.hut.name,
        )
        with tempfile.TemporaryDirectory(prefix="toolhut-label-") as folder:
            output = Path(folder) / "label.pdf"
            make_labels([label], output=output, fmt="pdf", layout=RollLayout(name="roll62"))
            pdf = output.read_bytes()
    except LabelError as exc:
        return render(
            request,
            "console/error.html",
            {"message": _(TEXT_LABEL_FAILED, reason=str(exc))},
            principal=principal,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="label-{item.tag}.pdf"'},
    )
