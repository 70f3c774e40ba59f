"""A resident's own pages on their phone (``/me``): signing in with a one-time code (from
the hut's display after a card tap, or sent through their reminder channel, with a link),
and signing out (their loans: resident_loans; waiting lists: resident_waiting). Large
type, Chinese first, as the public pages; a page here shows the signed-in member's own
data and nobody else's."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.api.deps import DbDep, NowDep, SettingsDep, client_address
from server.api.throttle import FailureThrottle
from server.records.member_fields import phone_number
from server.reminders.scheduler import ReminderService
from server.reminders.targets import Recipients
from server.residents import by_message, codes, sessions
from server.storage.models import Member
from server.web.forms import ConsoleForm
from server.web.language import LANG_COOKIE
from server.web.rendering import render
from server.web.resident_cookie import RESIDENT_COOKIE, clear_cookie, set_cookie
from server.web.resident_guard import (
    RESIDENT_HOME,
    RESIDENT_SIGN_IN,
    OptionalResident,
)
from server.web.session_pages import LANG_COOKIE_DAYS, local_path
from toolhut.i18n import N_

log = logging.getLogger(__name__)

router = APIRouter(prefix="/me", default_response_class=HTMLResponse, include_in_schema=False)

TEXT_WRONG_CODE = N_(
    "That code is not right, or it has expired or been used. Tap your card at the hut "
    "again for a new one."
)
TEXT_NOT_A_CODE = N_("A sign-in code has 8 digits.")
TEXT_THROTTLED = N_("Too many wrong codes from this phone: try again in {minutes} minutes.")
TEXT_LINK_USED = N_(
    "This sign-in link has expired or has been used. Ask for a new code, or tap your card "
    "at the hut."
)
TEXT_NO_PHONE = N_("Type the phone number the community staff have for you.")
TEXT_NOT_A_PHONE = N_("A phone number has 5 to 20 digits (spaces, dashes and +86 are fine).")
TEXT_ON_ITS_WAY = N_(
    "If this number is registered with a way to reach you (e-mail, SMS or WeCom), a "
    "message with a code and a link is on its way. It can take a minute."
)
TEXT_TOO_MANY_MESSAGES = N_("Too many messages asked for: try again in {minutes} minutes.")
MAX_PHONE_TYPED = 40


def _text(form: dict[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _signed_in_response(
    request: Request, db: DbDep, settings: SettingsDep, now: NowDep, member_id: int, target: str
) -> Response:
    secret = sessions.start(db, member_id, now=now, settings=settings.residents)
    db.commit()
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    set_cookie(response, request, settings, secret)
    member = db.get(Member, member_id)
    if member is not None and member.language == "en" and LANG_COOKIE not in request.cookies:
        response.set_cookie(
            LANG_COOKIE, "en", max_age=LANG_COOKIE_DAYS * 86400, samesite="lax", path="/"
        )
    return response


@router.get("/sign-in")
def sign_in_page(request: Request, resident: OptionalResident, next: str | None = None) -> Response:
    target = local_path(next) or RESIDENT_HOME
    if resident is not None:
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    return render(request, "public/me/sign_in.html", {"next": target})


@router.post("/sign-in")
def sign_in(
    request: Request, form: ConsoleForm, db: DbDep, now: NowDep, settings: SettingsDep
) -> Response:
    target = local_path(form.get("next")) or RESIDENT_HOME
    typed = _text(form, "code")
    limiter: FailureThrottle = request.app.state.resident_code_throttle
    address = client_address(request)
    wait = limiter.retry_after(address, now=now)
    if wait is not None:
        error, fields = TEXT_THROTTLED, {"minutes": -(-wait // 60)}
        code = status.HTTP_429_TOO_MANY_REQUESTS
    elif codes.normalized(typed) is None:
        error, fields, code = TEXT_NOT_A_CODE, {}, status.HTTP_422_UNPROCESSABLE_CONTENT
    else:
        member_id = codes.redeem_code(db, typed, now=now, settings=settings.residents)
        if member_id is not None:
            return _signed_in_response(request, db, settings, now, member_id, target)
        db.rollback()
        limiter.failed(address, now=now)
        error, fields, code = TEXT_WRONG_CODE, {}, status.HTTP_422_UNPROCESSABLE_CONTENT
    return render(
        request,
        "public/me/sign_in.html",
        {"next": target, "error": error, "error_fields": fields},
        status_code=code,
    )


@router.post("/sign-in/message")
def sign_in_by_message(
    request: Request,
    form: ConsoleForm,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Response:
    """A code and link sent to the member with this phone number, on their own channel.
    The answer is the same whether a member has the number or not; each address and each
    number may ask a few times an hour, whoever they are."""
    target = local_path(form.get("next")) or RESIDENT_HOME
    typed = _text(form, "phone")
    answer: dict[str, object] = {"next": target, "phone": typed[:MAX_PHONE_TYPED]}
    phone = _phone(typed)
    if phone is None:
        error = TEXT_NO_PHONE if not typed.strip() else TEXT_NOT_A_PHONE
        answer |= {"message_error": error, "message_error_fields": {}}
        return render(request, "public/me/sign_in.html", answer, status_code=422)
    by_address: FailureThrottle = request.app.state.resident_message_throttle
    by_number: FailureThrottle = request.app.state.resident_number_throttle
    number = hashlib.sha256(phone.encode()).hexdigest()  # not the number itself, in memory
    address = client_address(request)
    waits = [by_address.retry_after(address, now=now), by_number.retry_after(number, now=now)]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        answer |= {
            "message_error": TEXT_TOO_MANY_MESSAGES,
            "message_error_fields": {"minutes": -(-wait // 60)},
        }
        return render(request, "public/me/sign_in.html", answer, status_code=429)
    by_address.failed(address, now=now)  # every ask counts, matched or not
    by_number.failed(number, now=now)
    service: ReminderService = request.app.state.reminders
    recipients = Recipients(service.channels, settings.reminders.default_locale)
    queued = by_message.send_codes(
        db,
        phone,
        now=now,
        settings=settings.residents,
        recipients=recipients,
        base_url=settings.public_base_url,
    )
    db.commit()
    if queued:  # after the answer is sent: its time tells nothing either
        background.add_task(_deliver_now, service, now, queued)
    answer |= {"message_sent": TEXT_ON_ITS_WAY, "phone": ""}
    return render(request, "public/me/sign_in.html", answer)


def _phone(typed: str) -> str | None:
    """The number as member records store it, or None; full-width digits (a Chinese
    keyboard's) read as digits."""
    if len(typed) > MAX_PHONE_TYPED:
        return None
    try:
        return phone_number(unicodedata.normalize("NFKC", typed))
    except ValueError:
        return None


def _deliver_now(service: ReminderService, now: datetime, message_ids: Sequence[int]) -> None:
    """The messages' deliveries at once; what fails here is retried by the reminders'
    sweep, as any delivery."""
    try:
        service.on_report(service.deliver(now, message_ids=message_ids))
    except Exception:  # the page has answered; the sweep sends it later
        log.exception("sending sign-in messages failed; the reminders' sweep retries them")


@router.get("/link/{secret}")
def link_page(request: Request, secret: str) -> HTMLResponse:
    """A link from a message asks before it signs in: a messaging app's preview fetches
    the link, and must not use it up."""
    return render(request, "public/me/link.html", {"secret": secret[:128]})


@router.post("/link")
def link_sign_in(
    request: Request, form: ConsoleForm, db: DbDep, now: NowDep, settings: SettingsDep
) -> Response:
    secret = _text(form, "secret")
    member_id = codes.redeem_link(db, secret, now=now)
    if member_id is None:
        db.rollback()
        return render(
            request,
            "public/me/sign_in.html",
            {"next": RESIDENT_HOME, "error": TEXT_LINK_USED, "error_fields": {}},
            status_code=status.HTTP_410_GONE,
        )
    return _signed_in_response(request, db, settings, now, member_id, RESIDENT_HOME)


@router.post("/sign-out")
def sign_out(
    request: Request, form: ConsoleForm, db: DbDep, now: NowDep, settings: SettingsDep
) -> Response:
    secret = request.cookies.get(RESIDENT_COOKIE)
    if secret:
        sessions.end(db, secret, now=now)
        db.commit()
    response = RedirectResponse(RESIDENT_SIGN_IN, status.HTTP_303_SEE_OTHER)
    clear_cookie(response, request, settings)
    return response
