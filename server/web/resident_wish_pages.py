"""A resident's micro-wishes (微心愿) on their phone (``/me/wishes``): the wishes of the
huts they may use with each one's step in plain words, proposing one, supporting one, and
rating how it was handled if they proposed or support it. Others are "a neighbour": no
name, no one else's rating comment. The writes are server.records.wishes', as staff's are,
with the member as the actor the audit log names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.deps import DbDep, NowDep
from server.domain.wishes import WishChannel
from server.records import wishes
from server.records.wishes import RatingFields, SupportFields, WishFields
from server.residents.sessions import Resident
from server.storage.models import Hut, Member
from server.storage.wish_views import ResidentWish, evaluated_wishes, open_wishes, wish_for
from server.web.form_writes import filled, written
from server.web.forms import ConsoleForm, FormErrors
from server.web.members_pages import row_id
from server.web.rendering import render
from server.web.resident_actor import resident_actor
from server.web.resident_guard import SignedInResident
from server.web.wish_words import OUTCOME_WORDS, STEP_WORDS
from toolhut.i18n import N_

router = APIRouter(prefix="/me", default_response_class=HTMLResponse, include_in_schema=False)

WISHES = "/me/wishes"
UNPROCESSABLE, CONFLICT = status.HTTP_422_UNPROCESSABLE_CONTENT, status.HTTP_409_CONFLICT
TEXT_NO_WISH = N_("There is no such wish among those of your huts.")
TEXT_NOT_YOUR_HUT = N_("Choose one of the huts you use.")
TEXT_OWN_WISH = N_("This is your own wish: it counts you already.")
TEXT_NOT_YOURS_TO_RATE = N_(
    "Only the neighbour who proposed a wish and those who support it rate how it was handled."
)
TEXT_NOT_HANDLED = N_("You can rate a wish once it has been handled.")

# The three answers a rating offers, as the scores the records keep.
SCORES = ((5, N_("Satisfied")), (3, N_("So-so")), (1, N_("Not satisfied")))
DONE = {
    "proposed": N_("Your wish is in. Neighbours can now support it."),
    "supported": N_("Your support is counted."),
    "supported_already": N_("You support this wish already."),
    "rated": N_("Thank you: your rating is saved."),
}


def _huts(db: Session, member_id: int) -> tuple[frozenset[str], list[tuple[str, str]]]:
    """The huts the member may use (empty: every hut), and the ones to propose for."""
    member = db.get(Member, member_id)
    allowed = member.huts if member is not None else frozenset()
    query = select(Hut.id, Hut.name).order_by(Hut.name, Hut.id)
    if allowed:
        query = query.where(Hut.id.in_(sorted(allowed)))
    return allowed, [(hut_id, name) for hut_id, name in db.execute(query)]


def _page(
    request: Request, db: Session, resident: Resident, *, form: Mapping[str, Any] | None = None,
    errors: FormErrors | None = None, failed: int | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    """The list and the proposal form; ``failed`` is the wish whose form ``errors`` are for
    (None: the proposal's)."""
    allowed, choices = _huts(db, resident.member_id)
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        "public/me/wishes.html",
        {
            "open": open_wishes(db, resident.member_id, allowed),
            "evaluated": evaluated_wishes(db, resident.member_id, allowed),
            "huts": choices, "form": form or {}, "form_errors": errors, "failed": failed,
            "done": done, "step_words": STEP_WORDS, "outcome_words": OUTCOME_WORDS,
            "scores": SCORES,
        },
        status_code=status_code,
    )  # fmt: skip


def _refused(
    request: Request, db: Session, resident: Resident, errors: FormErrors | str, code: int, *,
    failed: int | None = None, form: Mapping[str, Any] | None = None,
) -> HTMLResponse:  # fmt: skip
    """The page again with why a form was refused (``errors``, or one message above it)."""
    shown = FormErrors(general=[errors]) if isinstance(errors, str) else errors
    return _page(
        request, db, resident, form=form, errors=shown, failed=failed, status_code=code
    )  # fmt: skip


def _back(done: str, wish_id: int) -> RedirectResponse:
    return RedirectResponse(f"{WISHES}?done={done}#wish-{wish_id}", status.HTTP_303_SEE_OTHER)


@router.get("/wishes")
def wishes_page(request: Request, resident: SignedInResident, db: DbDep) -> HTMLResponse:
    return _page(request, db, resident)


@router.post("/wishes")
def propose(
    request: Request, form: ConsoleForm, resident: SignedInResident, db: DbDep, now: NowDep
) -> Response:
    """提: a new wish from the resident's phone, with them as its proposer."""
    values = filled(form, ("title", "detail", "hut"))
    _allowed, choices = _huts(db, resident.member_id)
    if "hut" in values and values["hut"] not in dict(choices):
        wrong_hut = FormErrors(fields={"hut": TEXT_NOT_YOUR_HUT})
        return _refused(request, db, resident, wrong_hut, UNPROCESSABLE, form=form)
    values |= {"channel": WishChannel.PHONE, "proposed_by": resident.member_id}
    actor = resident_actor(resident, request)
    wish, errors = written(
        request, db, WishFields, values,
        lambda fields: wishes.create(db, fields, actor=actor, now=now),
    )  # fmt: skip
    if errors:
        return _refused(request, db, resident, errors, UNPROCESSABLE, form=form)
    return _back("proposed", wish.id)


def _visible(db: Session, resident: Resident, ref: str) -> ResidentWish | None:
    wish_id = row_id(ref)
    if wish_id is None:
        return None
    allowed, _choices = _huts(db, resident.member_id)
    return wish_for(db, wish_id, resident.member_id, allowed)


@router.post("/wishes/{ref}/support")
def support(
    request: Request, ref: str, form: ConsoleForm, resident: SignedInResident, db: DbDep,
    now: NowDep,
) -> Response:  # fmt: skip
    """Me too: once per resident (again changes nothing, and says so)."""
    wish = _visible(db, resident, ref)
    if wish is None:
        return _refused(request, db, resident, TEXT_NO_WISH, status.HTTP_404_NOT_FOUND)
    if wish.mine:
        return _refused(request, db, resident, TEXT_OWN_WISH, CONFLICT, failed=wish.id)
    actor = resident_actor(resident, request)
    added, errors = written(
        request, db, SupportFields, {"member_id": resident.member_id},
        lambda fields: wishes.support(db, wish.id, fields, actor=actor, now=now),
    )  # fmt: skip
    if errors:
        return _refused(request, db, resident, errors, CONFLICT, failed=wish.id)
    return _back("supported" if added else "supported_already", wish.id)


@router.post("/wishes/{ref}/rating")
def rate(
    request: Request, ref: str, form: ConsoleForm, resident: SignedInResident, db: DbDep,
    now: NowDep,
) -> Response:  # fmt: skip
    """评: the proposer's or a supporter's rating, 1 to 5 (the page offers satisfied 5, so-so
    3, not satisfied 1) with an optional comment; a second one replaces theirs."""
    wish = _visible(db, resident, ref)
    if wish is None:
        return _refused(request, db, resident, TEXT_NO_WISH, status.HTTP_404_NOT_FOUND)
    if not (wish.mine or wish.supported):
        return _refused(
            request, db, resident, TEXT_NOT_YOURS_TO_RATE, status.HTTP_403_FORBIDDEN,
            failed=wish.id,
        )  # fmt: skip
    if not wish.may_rate:
        return _refused(request, db, resident, TEXT_NOT_HANDLED, CONFLICT, failed=wish.id)
    values = {**filled(form, ("score", "comment")), "member_id": resident.member_id}
    actor = resident_actor(resident, request)
    _, errors = written(
        request, db, RatingFields, values,
        lambda fields: wishes.rate(db, wish.id, fields, actor=actor, now=now),
    )  # fmt: skip
    if errors:
        return _refused(request, db, resident, errors, UNPROCESSABLE, failed=wish.id, form=form)
    return _back("rated", wish.id)
