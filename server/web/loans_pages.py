"""The console's loans: the open loans, or only the overdue ones, of every hut or one,
searched by item or member, soonest due first, a page at a time; and for staff, per loan,
remind now, renew, mark returned and mark lost.

The list is the API's query (storage.queries.open_loans, ordered as GET /api/v1/loans);
each action is the function its API route calls (remind_actions.remind_now,
staff_actions.renew / mark_returned / mark_lost), inside ``staff_action()``. A done action
comes back to the list (303) with ``?done=`` naming what was done; a refused one shows the
list again with the reason beside its loan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import remind_actions, staff_actions
from server.accounts.principal import Principal
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.listing import PageRequest, page_of, sorted_by
from server.api.params import MAX_ROW_ID
from server.api.routes.loans import SORTS
from server.api.stamps import staff_stamp
from server.reminders.scheduler import ReminderService
from server.storage import queries
from server.storage.audit import Stamp
from server.storage.models import Hut, Loan
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PageNotFound, PageStaff, PageViewer
from server.web.language import page_language
from server.web.list_query import ListQuery, back_to
from server.web.local_time import local_time
from server.web.paging import Page
from server.web.rendering import render, translator
from toolhut.i18n import N_

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

LIST = "/console/loans"
STATES = {"open": N_("Open loans"), "overdue": N_("Overdue")}
DONE = {
    "reminded": N_("A reminder was sent to the borrower."),
    "renewed": N_("The loan is renewed."),
    "returned": N_("The loan is marked returned."),
    "lost": N_("The loan is marked lost."),
}
TEXT_NOTHING_OPEN = N_("This member has no open loans to be reminded of.")
TEXT_NO_LOAN = N_("There is no such loan.")


def _filters(
    params: Mapping[str, str], huts: Mapping[str, str]
) -> tuple[dict[str, Any], FormErrors]:
    query = ListQuery(params)
    filters: dict[str, Any] = {
        "state": query.choice("state", STATES) or "open",
        "hut": query.choice("hut", huts),
        "q": query.search("q"),
    }
    filters["offset"], filters["limit"] = query.window()
    return filters, query.errors


def _page(
    request: Request,
    principal: Principal,
    db: Session,
    now: datetime,
    params: Mapping[str, str],
    *,
    loan_errors: Mapping[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    huts = {hut.id: hut for hut in db.scalars(select(Hut).order_by(Hut.id))}
    filters, errors = _filters(params, {key: hut.name for key, hut in huts.items()})
    found = queries.open_loans(
        overdue_at=now if filters["state"] == "overdue" else None,
        hut_id=filters["hut"],
        search=filters["q"],
    )
    window = Page.of(filters["offset"], filters["limit"], 0)
    loans, total = page_of(
        db,
        sorted_by(found, None, SORTS, default="due_at"),
        PageRequest(window.limit, window.offset, None),
    )
    kept = {key: filters[key] for key in ("state", "hut", "q") if filters[key]}
    back = urlencode({**kept, **({"offset": window.offset} if window.offset else {})})
    done = params.get("done")
    _ = translator(page_language(request))
    zones = {key: hut.timezone for key, hut in huts.items()}
    messages = {key: _(text) for key, text in (loan_errors or {}).items()}
    shown = {loan.id for loan in loans}
    return render(
        request,
        "console/loans/list.html",
        {
            "loans": loans,
            "page": Page.of(window.offset, window.limit, total),
            "filters": filters,
            "errors": errors,
            "states": list(STATES.items()),
            "huts": [(key, hut.name) for key, hut in huts.items()],
            "hut_names": {key: hut.name for key, hut in huts.items()},
            "base_query": urlencode(kept),
            "back": back,
            "now": now,
            "when": lambda moment, hut_id: local_time(zones.get(hut_id))(moment),
            "done": DONE.get(done) if done else None,
            "loan_errors": messages,
            # A refused loan no longer on this page (returned meanwhile): above the list.
            "other_errors": [text for key, text in messages.items() if key not in shown],
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status_code,
    )


@router.get("/loans")
def loans_page(request: Request, principal: PageViewer, db: DbDep, now: NowDep) -> HTMLResponse:
    return _page(request, principal, db, now, request.query_params)


def _act(
    request: Request,
    form: Mapping[str, Any],
    principal: Principal,
    db: Session,
    now: datetime,
    loan_id: int,
    done: str,
    action: Action,
) -> Response:
    """Do ``action`` and come back to the list, or show the list with the reason
    beside the loan."""
    back = back_to(form, ("state", "hut", "q", "offset"))
    stamp = staff_stamp(principal, request, now)
    try:
        with staff_action():
            action(db, stamp, loan_id, now)
        db.commit()
    except remind_actions.NothingOpenError:
        db.rollback()
        return _page(
            request,
            principal,
            db,
            now,
            back,
            loan_errors={loan_id: TEXT_NOTHING_OPEN},
            status_code=status.HTTP_409_CONFLICT,
        )
    except (HTTPException, RequestValidationError) as exc:
        db.rollback()
        code = exc.status_code if isinstance(exc, HTTPException) else 422
        message = TEXT_NO_LOAN if code == status.HTTP_404_NOT_FOUND else _message(exc)
        return _page(
            request, principal, db, now, back, loan_errors={loan_id: message}, status_code=code
        )
    query = urlencode({**back, "done": done})
    return RedirectResponse(f"{LIST}?{query}", status.HTTP_303_SEE_OTHER)


def _message(exc: HTTPException | RequestValidationError) -> str:
    errors = errors_of(exc)
    return " ".join([*errors.general, *errors.fields.values()])


Action = Callable[[Session, Stamp, int, datetime], object]


def _remind(request: Request) -> Action:
    service: ReminderService = request.app.state.reminders

    def action(db: Session, stamp: Stamp, loan_id: int, now: datetime) -> object:
        member_id = _loan(db, loan_id).member_id
        return remind_actions.remind_now(db, service, member_id=member_id, now=now, stamp=stamp)

    return action


def _renew(db: Session, stamp: Stamp, loan_id: int, now: datetime) -> object:
    return staff_actions.renew(db, loan_id=loan_id, now=now, stamp=stamp)


def _returned(db: Session, stamp: Stamp, loan_id: int, now: datetime) -> object:
    return staff_actions.mark_returned(db, loan_id=loan_id, now=now, stamp=stamp)


def _lost(db: Session, stamp: Stamp, loan_id: int, now: datetime) -> object:
    return staff_actions.mark_lost(db, loan_id=loan_id, now=now, stamp=stamp)


@router.post("/loans/{loan_id}/{verb}")
def act_on_loan(
    request: Request,
    loan_id: str,
    verb: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    """remind (the borrower, of every open loan of theirs), renew, returned, lost."""
    actions: dict[str, tuple[str, Action]] = {
        "remind": ("reminded", _remind(request)),
        "renew": ("renewed", _renew),
        "returned": ("returned", _returned),
        "lost": ("lost", _lost),
    }
    if verb not in actions:
        raise PageNotFound(TEXT_NO_LOAN, principal=principal)
    done, action = actions[verb]
    return _act(request, form, principal, db, now, _loan_id(loan_id), done, action)


def _loan(db: Session, loan_id: int) -> Loan:
    loan = db.get(Loan, loan_id)
    if loan is None:
        raise staff_actions.NotFoundError(f"no loan {loan_id}")
    return loan


def _loan_id(text: str) -> int:
    """The path's loan id; 0 (no loan has it: "no such loan") for what is not one."""
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ROW_ID else 0
