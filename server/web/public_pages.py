"""The public pages, for residents: ``/`` (every hut: where, when open, whom to call, its
supplies and its shelf, searchable) and ``/i/<tag>`` (what a phone shows after scanning a
label). No sign-in, so never a borrower: no name, flat, phone or card, only whether an
item is there and when it is due back (a resident signed in on their phone sees their
own place in its waiting list, and nobody else's).

Made for phones and elderly readers (large type, cards, not a table). The overview has no
automatic refresh: it holds a search form, and a reload under a reader's fingers would
wipe what they typed. The item page, which a resident may keep open while waiting for a
return, reloads itself every 30 s (``REFRESH_S``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from server.api.deps import DbDep
from server.domain import ItemCondition, ItemStatus, parse_scan_text
from server.residents.sessions import Resident
from server.storage import consumables, public_shelves, resident_views, wish_views
from server.storage.models import Hut
from server.storage.public_shelves import MAX_QUERY_CHARS, PublicItem, ShelfFilter
from server.web.paging import Page
from server.web.rendering import render
from server.web.resident_guard import OptionalResident
from server.web.wish_words import STEP_WORDS
from toolhut.i18n import N_
from toolhut.opening_hours import DAYS, OpeningHours

router = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)

PER_HUT = 6  # items of each hut on the overview; "more" opens the hut's own list
PER_PAGE = 30  # items of one hut per page
REFRESH_S = 30

STATUS_LABELS = {
    ItemStatus.AVAILABLE: N_("Available"),
    ItemStatus.ON_LOAN: N_("On loan"),
    ItemStatus.RESERVED: N_("Reserved"),
    ItemStatus.MAINTENANCE: N_("Under repair"),
    ItemStatus.RETIRED: N_("Retired"),
    ItemStatus.LOST: N_("Lost"),
}
STATUS_CLASSES = {ItemStatus.AVAILABLE: "ok", ItemStatus.ON_LOAN: "warn"}  # else muted
CONDITION_LABELS = {
    ItemCondition.OK: N_("Good"),
    ItemCondition.NEEDS_REPAIR: N_("Needs repair"),
    ItemCondition.MISSING_PART: N_("A part is missing"),
}
# A note under the state, for the states that need one; never a member's name.
STATUS_NOTES = {
    ItemStatus.MAINTENANCE: N_("Staff are checking or repairing it; it can be borrowed after."),
    ItemStatus.LOST: N_("Reported lost."),
    ItemStatus.RETIRED: N_("No longer lent out."),
}
TEXT_HELD_FOR = N_("Kept for a neighbour who reserved it, until {date}")
TEXT_HELD = N_("Kept for a neighbour who reserved it")
# The states a waiting list is open in (the rule, check_reservation, has the last word).
JOINABLE = frozenset({ItemStatus.ON_LOAN, ItemStatus.RESERVED, ItemStatus.MAINTENANCE})
DAY_NAMES = {
    "mon": N_("Mon"),
    "tue": N_("Tue"),
    "wed": N_("Wed"),
    "thu": N_("Thu"),
    "fri": N_("Fri"),
    "sat": N_("Sat"),
    "sun": N_("Sun"),
}
TEXT_DATE = N_("{month}/{day} {time}")  # zh: 11月30日 10:00
TEXT_BAD_CATEGORY = N_("There is no such category; showing every category.")
TEXT_BAD_HUT = N_("There is no such hut; showing every hut.")
TEXT_BAD_OFFSET = N_("That page number is not valid; showing the first page.")
TEXT_QUERY_TOO_LONG = N_("Search for at most {count} characters.")


def local_time(at: datetime | None, tz: str) -> dict[str, str] | None:
    """The parts of ``TEXT_DATE`` for ``at`` in the hut's time zone."""
    if at is None:
        return None
    local = at.astimezone(ZoneInfo(tz))
    return {"month": f"{local.month:02d}", "day": f"{local.day:02d}", "time": f"{local:%H:%M}"}


def hours_of(hut: Hut) -> list[tuple[str, str]] | None:
    """(day label, "08:00–12:00, 14:00–20:00") per day it opens; None: always open (or
    hours stored that are not valid, which the door treats as always open too)."""
    if hut.opening_hours is None:
        return None
    try:
        hours = OpeningHours.model_validate(hut.opening_hours)
    except ValidationError:
        return None
    return [
        (DAY_NAMES[day], ", ".join(f"{start}–{end}" for start, end in sorted(windows)))
        for day in DAYS
        if (windows := hours.week.get(day))
    ]


def _offset(raw: str | None) -> int | None:
    """The offset asked for; None if it is not a number of rows."""
    if raw is None or raw == "":
        return 0
    return int(raw) if raw.isdigit() and len(raw) < 9 else None


@router.get("/")
def overview(request: Request, db: DbDep) -> HTMLResponse:
    """Every hut's card and the first of its items; ``?hut=`` one hut's items, a page at a
    time; ``q`` (a name or tag) and ``category`` narrow the items. A parameter that is not
    valid is named on the page, which shows what it can without it."""
    params = request.query_params
    problems: list[tuple[str, str, dict[str, Any]]] = []
    text = (params.get("q") or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        problems.append(("q", TEXT_QUERY_TOO_LONG, {"count": MAX_QUERY_CHARS}))
        text = text[:MAX_QUERY_CHARS]
    categories = public_shelves.categories(db)
    category = params.get("category") or None
    if category is not None and category not in {c.key for c in categories}:
        problems.append(("category", TEXT_BAD_CATEGORY, {}))
        category = None
    hut_id = params.get("hut") or None
    if hut_id is not None and not public_shelves.huts(db, hut_id):
        problems.append(("hut", TEXT_BAD_HUT, {}))
        hut_id = None
    offset = _offset(params.get("offset")) if hut_id else 0
    if offset is None:
        problems.append(("offset", TEXT_BAD_OFFSET, {}))
        offset = 0
    wanted = ShelfFilter(text=text or None, category=category, hut_id=hut_id)
    per_hut = PER_PAGE if hut_id else PER_HUT
    shelves = public_shelves.shelves(db, wanted, per_hut=per_hut, offset=offset)
    search = {k: v for k, v in (("q", text), ("category", category or "")) if v}
    page = Page(offset=offset, limit=PER_PAGE, total=shelves[0].total) if hut_id else None
    return render(
        request,
        "public/overview.html",
        {
            "shelves": shelves,
            "categories": categories,
            "q": text,
            "category": category or "",
            "hut_id": hut_id,
            "page": page,
            "base_query": urlencode({**search, **({"hut": hut_id} if hut_id else {})}),
            "search_query": urlencode(search),
            "problems": problems,
            "wishes": [] if text or category or hut_id else wish_views.public_wishes(db),
            "step_words": STEP_WORDS,
            **_labels(),
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if problems else status.HTTP_200_OK,
    )


@router.get("/i/{tag}")
def item_page(tag: str, request: Request, db: DbDep, resident: OptionalResident) -> HTMLResponse:
    """The page a label's QR code opens: an item's state and when it is due back, or a
    supply shelf's (in stock or not: never counts, nor who took any). For an item on loan
    or held, a way into its waiting list; a signed-in resident sees their own place."""
    parsed = parse_scan_text(tag)
    entry = public_shelves.find(db, parsed) if parsed is not None else None
    if entry is None:
        supply = consumables.find(db, parsed) if parsed is not None else None
        if supply is not None:
            hut = public_shelves.huts(db, supply.hut_id)[0]
            return render(request, "public/supply.html", {"supply": supply, "hut": hut})
        return missing_page(request, tag)
    return item_response(request, db, entry, resident)


def missing_page(request: Request, tag: str) -> HTMLResponse:
    return render(
        request,
        "public/missing.html",
        {"tag": tag[:MAX_QUERY_CHARS]},
        status_code=status.HTTP_404_NOT_FOUND,
    )


def item_response(
    request: Request,
    db: DbDep,
    entry: PublicItem,
    resident: Resident | None,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """The item's page (``error``: why the resident's request about it was refused)."""
    item = entry.item
    mine = None
    if resident is not None:
        mine = next(iter(resident_views.places(db, resident.member_id, item_id=item.id)), None)
    return render(
        request,
        "public/item.html",
        {
            "entry": entry,
            "hut": item.hut,
            "refresh_s": REFRESH_S,
            "signed_in": resident is not None,
            "my_place": mine,
            "may_join": item.status in JOINABLE,
            "sign_in_next": f"/i/{quote(item.tag)}",
            "error": error,
            **_labels(),
        },
        status_code=status_code,
    )


def _labels() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "status_classes": STATUS_CLASSES,
        "condition_labels": CONDITION_LABELS,
        "status_notes": STATUS_NOTES,
        "local_time": local_time,
        "hours_of": hours_of,
        "TEXT_DATE": TEXT_DATE,
        "TEXT_HELD_FOR": TEXT_HELD_FOR,
        "TEXT_HELD": TEXT_HELD,
    }
