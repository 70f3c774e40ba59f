"""A resident's own loans on their phone (``/me``): what is kept for them, what they have
(due when, in the hut's time zone; overdue said plainly), a Renew button where the rule
would renew and the reason where it would not, their places in waiting lists, what they
have just brought back and not rated yet, and ``/me/history``, what they brought back, the
last first, with their ratings (the rating form: resident_ratings). The member's own rows
only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import resident_actions
from server.api.deps import DbDep, NowDep
from server.domain.ratings import MAX_COMMENT, SCORE_WORDS, SCORES
from server.residents.sessions import Resident
from server.staff_actions import NotFoundError, RefusedError
from server.storage import resident_views
from server.storage.models import Member
from server.web.forms import ConsoleForm
from server.web.paging import Page
from server.web.public_pages import TEXT_BAD_OFFSET, TEXT_DATE, local_time
from server.web.rendering import render
from server.web.resident_guard import RESIDENT_HOME, SignedInResident, stamp_of
from server.web.resident_refusals import why
from toolhut.i18n import N_

router = APIRouter(prefix="/me", default_response_class=HTMLResponse, include_in_schema=False)

HISTORY_PER_PAGE = 20
# The phone's return receipt on /me: the returns of these last days not rated yet.
JUST_BROUGHT_BACK = timedelta(days=7)
JUST_BROUGHT_BACK_SHOWN = 5

TEXT_NOT_A_LOAN = N_("That is not a loan number: open this page again and press its button.")
TEXT_NOT_YOURS = N_("That loan is not one of yours.")
# What a finished request says at the top of /me (the redirect after it names one).
DONE = {
    "renewed": N_("Renewed: the new due date is below."),
    "left": N_("You have left the waiting list."),
    "rated": N_("Thank you: your rating is saved."),
}


def home_page(
    request: Request,
    db: DbDep,
    resident: Resident,
    now: NowDep,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
    failed: int | None = None,
    form: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """/me for ``resident`` (with ``error`` above it, for a refused request; ``form``
    refills the rating form of loan ``failed``)."""
    member = db.get(Member, resident.member_id)
    loans = resident_views.open_loans(db, resident.member_id)
    refusals = resident_actions.renewal_refusals(db, loan_ids=[x.loan_id for x in loans], now=now)
    places = resident_views.places(db, resident.member_id)
    recent = resident_views.unrated_since(
        db, resident.member_id, now - JUST_BROUGHT_BACK, limit=JUST_BROUGHT_BACK_SHOWN
    )
    done = DONE.get(request.query_params.get("done") or "")
    context: dict[str, Any] = {
        "member_name": member.name if member is not None else "",
        "loans": loans,
        "refusals": {loan_id: why(r) if r else None for loan_id, r in refusals.items()},
        "held": [p for p in places if p.held_until is not None],
        "waiting": [p for p in places if p.held_until is None],
        "recent": recent,
        "error": error,
        "done": done,
        **_row_context(now, failed, form),
    }
    return render(request, "public/me/home.html", context, status_code=status_code)


def _row_context(
    now: datetime, failed: int | None = None, form: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the rows of loans and returns need: times, and the rating form's words (and
    the refused form of loan ``failed``, to fill it again)."""
    return {
        "local_time": local_time, "TEXT_DATE": TEXT_DATE, "now": now,
        "score_words": SCORE_WORDS, "scores": SCORES, "max_comment": MAX_COMMENT,
        "failed": failed, "form": form or {},
    }  # fmt: skip


@router.get("")
def my_page(request: Request, resident: SignedInResident, db: DbDep, now: NowDep) -> Response:
    return home_page(request, db, resident, now)


@router.post("/renew")
def renew(
    request: Request, form: ConsoleForm, resident: SignedInResident, db: DbDep, now: NowDep
) -> Response:
    raw = form.get("loan")
    if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 9:
        return home_page(
            request,
            db,
            resident,
            now,
            error=TEXT_NOT_A_LOAN,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    stamp = stamp_of(request, resident, now)
    try:
        resident_actions.renew(
            db, member_id=resident.member_id, loan_id=int(raw), now=now, stamp=stamp
        )
    except NotFoundError:
        db.rollback()
        return home_page(
            request, db, resident, now, error=TEXT_NOT_YOURS, status_code=status.HTTP_404_NOT_FOUND
        )
    except RefusedError as exc:
        db.rollback()
        return home_page(
            request, db, resident, now, error=why(exc.reason), status_code=status.HTTP_409_CONFLICT
        )
    db.commit()
    return RedirectResponse(f"{RESIDENT_HOME}?done=renewed", status.HTTP_303_SEE_OTHER)


def history_page(
    request: Request,
    db: DbDep,
    resident: Resident,
    now: NowDep,
    *,
    offset: str | None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
    failed: int | None = None,
    form: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    """A page of /me/history from ``offset`` (a bad one: the first page, and says so),
    with ``error`` as home_page."""
    raw = offset or "0"
    problem = None if raw.isdigit() and len(raw) < 9 else TEXT_BAD_OFFSET
    start = int(raw) if problem is None else 0
    rows, total = resident_views.history(
        db, resident.member_id, offset=start, limit=HISTORY_PER_PAGE
    )
    page = Page(offset=start, limit=HISTORY_PER_PAGE, total=total)
    done = DONE.get(request.query_params.get("done") or "")
    if problem is not None and error is None:
        error, status_code = problem, status.HTTP_422_UNPROCESSABLE_CONTENT
    return render(
        request,
        "public/me/history.html",
        {"rows": rows, "page": page, "problem": error, "done": done,
         **_row_context(now, failed, form)},
        status_code=status_code,
    )  # fmt: skip


@router.get("/history")
def history(request: Request, resident: SignedInResident, db: DbDep, now: NowDep) -> Response:
    return history_page(request, db, resident, now, offset=request.query_params.get("offset"))
