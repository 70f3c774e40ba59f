"""A resident's rating of what they brought back, from their phone (``POST /me/rating``):
the form of a return on /me ("just brought back") and on /me/history
(``templates/public/me/_rating.html``), 满意 / 一般 / 不满意 or 1 to 5, with an optional
comment. The rules and the write are server.records.ratings' (the hut's rating cards
keep the same ones); the audit log names the member as ``member:<id>``. Refused: the same
page again with the reason, nothing written."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.api.deps import DbDep, NowDep
from server.domain.model import RatingSource
from server.domain.ratings import RatingRefusal
from server.records.ratings import RatingRefusedError, rate_loan
from server.web.forms import ConsoleForm
from server.web.resident_actor import resident_actor
from server.web.resident_guard import RESIDENT_HOME, SignedInResident
from server.web.resident_loans import TEXT_NOT_A_LOAN, history_page, home_page

router = APIRouter(prefix="/me", default_response_class=HTMLResponse, include_in_schema=False)

HISTORY = "/me/history"
FROM_HISTORY = "history"  # the form's ``from``: back to that page of the history
NO_SCORE = 0  # what a missing or garbled score is given as: the rules refuse it
REFUSED_STATUS = {
    RatingRefusal.NO_LOAN: status.HTTP_404_NOT_FOUND,
    RatingRefusal.NOT_YOURS: status.HTTP_404_NOT_FOUND,
    RatingRefusal.NOT_RETURNED: status.HTTP_409_CONFLICT,
    RatingRefusal.TOO_LATE: status.HTTP_409_CONFLICT,
    RatingRefusal.BAD_SCORE: status.HTTP_422_UNPROCESSABLE_CONTENT,
    RatingRefusal.COMMENT_TOO_LONG: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def _number(value: object, digits: int) -> int | None:
    if not isinstance(value, str) or not value.isdigit() or len(value) > digits:
        return None
    return int(value)


@router.post("/rating")
def rate(
    request: Request, form: ConsoleForm, resident: SignedInResident, db: DbDep, now: NowDep
) -> Response:
    """One resident's rating of their returned loan ``loan``: ``score`` (the button
    pressed), ``comment``; a later one replaces it. Back to /me, or to the history page
    (``from`` history, ``offset``) the form was on."""
    in_history = form.get("from") == FROM_HISTORY
    offset = _number(form.get("offset"), 8) or 0

    def refused(error: str, code: int, loan_id: int | None = None) -> HTMLResponse:
        db.rollback()
        if in_history:
            return history_page(
                request, db, resident, now, offset=str(offset), error=error, status_code=code,
                failed=loan_id, form=form,
            )  # fmt: skip
        return home_page(
            request, db, resident, now, error=error, status_code=code, failed=loan_id, form=form
        )

    loan_id = _number(form.get("loan"), 9)
    if loan_id is None:
        return refused(TEXT_NOT_A_LOAN, status.HTTP_422_UNPROCESSABLE_CONTENT)
    comment = form.get("comment")
    try:
        rate_loan(
            db, member_id=resident.member_id, loan_id=loan_id,
            score=_number(form.get("score"), 1) or NO_SCORE,
            comment=comment if isinstance(comment, str) else "",
            source=RatingSource.PHONE, now=now, actor=resident_actor(resident, request),
        )  # fmt: skip
    except RatingRefusedError as exc:
        return refused(exc.text, REFUSED_STATUS[exc.reason], loan_id)
    db.commit()
    return RedirectResponse(_back(in_history, offset, loan_id), status.HTTP_303_SEE_OTHER)


def _back(in_history: bool, offset: int, loan_id: int) -> str:
    if not in_history:
        return f"{RESIDENT_HOME}?done=rated"
    query = {"offset": offset, "done": "rated"} if offset else {"done": "rated"}
    return f"{HISTORY}?{urlencode(query)}#loan-{loan_id}"
