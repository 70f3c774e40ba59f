"""The console's page of what the system flagged for staff: alarms first, then anomalies,
sequence gaps and dead letters, one tab each, filtered (hut, kind, state) and paginated
like the API's lists (server/api/routes/alarms.py, anomalies.py: the same queries, the
same newest-first paging, the same rows as each reader's role may see them: a dead
letter's payload only for staff). Staff acknowledge and resolve each row with a note
(server.records.reviews, the API's step): a resolve needs a note, and a step that no longer
applies (someone else was quicker) says so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.errors import staff_action
from server.api.listing import PageRequest
from server.api.review_schemas import AcknowledgeBody, ResolveBody
from server.api.reviewing import page_newest_first
from server.api.routes import alarms as alarm_routes
from server.api.routes import anomalies as anomaly_routes
from server.domain.alarms import ALARM_TEXT, ANOMALY_TEXT, AlarmKind
from server.domain.ledger_state import AnomalyKind
from server.records import reviews
from server.records.reviews import Reviewable, ReviewState
from server.settings import ServerSettings
from server.storage import queries
from server.storage.audit import Stamp
from server.storage.ingest_models import GapKind, SequenceGap
from server.storage.models import Anomaly, RejectedMessage
from server.storage.operations_models import Alarm
from server.web.field_messages import field_errors
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PageStaff, PageViewer
from server.web.language import page_language
from server.web.list_filters import ListQuery
from server.web.local_time import shown
from server.web.members_pages import row_id
from server.web.paging import DEFAULT_LIMIT, Page
from server.web.rendering import render
from toolhut.i18n import N_, gettext

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

ALL = "all"  # the state filter's "any state"; without one, a tab shows what is open
TEXT_NO_ROW = N_("That row is gone: nothing was changed.")
STATE_NAMES = {
    ReviewState.OPEN: N_("open"),
    ReviewState.ACTIVE: N_("still going on"),
    ReviewState.ACKNOWLEDGED: N_("acknowledged"),
    ReviewState.RESOLVED: N_("resolved"),
}
GAP_NAMES = {GapKind.MISSING: N_("events missing"), GapKind.RESET: N_("numbering restarted")}


@dataclass(frozen=True, slots=True)
class Tab:
    """One list of the page: its rows, their filters, and how the API shows them."""

    key: str
    title: str  # a message id
    kind: Reviewable
    at: Any  # the time column it pages newest first by
    sorts: dict[str, Any]
    kinds: tuple[tuple[str, str], ...]  # (value, message id) of the kind filter
    query: Callable[[ServerSettings, str | None, str | None], Select[Any]]
    shown: Callable[[Session, list[Any], Principal], list[Any]]
    states: tuple[ReviewState, ...] = (
        ReviewState.OPEN,
        ReviewState.ACKNOWLEDGED,
        ReviewState.RESOLVED,
    )


TABS = (
    Tab(
        "alarms",
        N_("Alarms"),
        reviews.ALARMS,
        Alarm.raised_at,
        alarm_routes.SORTS,
        tuple((k.value, ALARM_TEXT.get(k, k.value)) for k in AlarmKind),
        lambda _s, hut, kind: alarm_routes.alarms_query(hut, AlarmKind(kind) if kind else None),
        alarm_routes.shown,
        (ReviewState.OPEN, ReviewState.ACTIVE, ReviewState.ACKNOWLEDGED, ReviewState.RESOLVED),
    ),
    Tab(
        "anomalies",
        N_("Anomalies"),
        reviews.ANOMALIES,
        Anomaly.created_at,
        anomaly_routes.ANOMALY_SORTS,
        tuple((k.value, ANOMALY_TEXT.get(k, k.value)) for k in AnomalyKind),
        lambda _s, hut, kind: anomaly_routes.anomalies_query(
            hut, AnomalyKind(kind) if kind else None
        ),
        anomaly_routes.shown_anomalies,
    ),
    Tab(
        "gaps",
        N_("Sequence gaps"),
        reviews.SEQUENCE_GAPS,
        SequenceGap.detected_at,
        anomaly_routes.GAP_SORTS,
        tuple(GAP_NAMES.items()),
        lambda _s, hut, kind: anomaly_routes.gaps_query(hut, kind),
        anomaly_routes.shown_gaps,
    ),
    Tab(
        "letters",
        N_("Dead letters"),
        reviews.DEAD_LETTERS,
        RejectedMessage.received_at,
        anomaly_routes.LETTER_SORTS,
        (),
        lambda settings, hut, _kind: anomaly_routes.letters_query(settings, hut),
        anomaly_routes.shown_letters,
    ),
)
BY_KEY = {tab.key: tab for tab in TABS}


def list_page(
    request: Request,
    db: Session,
    principal: Principal,
    settings: ServerSettings,
    params: Any,
    *,
    failed: tuple[str, int] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The tab ``params`` ask for (alarms unless they say), its filters checked; ``failed``
    names the row whose review ``errors`` are shown beside its note."""
    lang = page_language(request)
    asked = ListQuery(params, lang)
    tab = BY_KEY[asked.word("tab", BY_KEY) or "alarms"]
    hut = asked.hut()
    kind = asked.word("kind", [value for value, _ in tab.kinds]) if tab.kinds else None
    state_word = asked.word("state", [ALL, *(state.value for state in tab.states)])
    state = None if state_word == ALL else ReviewState(state_word or ReviewState.OPEN.value)
    offset = asked.offset()
    request_page = PageRequest(limit=DEFAULT_LIMIT, offset=offset, sort=None)
    rows, total = page_newest_first(
        db,
        tab.query(settings, hut, kind),
        request_page,
        kind=tab.kind,
        at=tab.at,
        sorts=tab.sorts,
        state=state,
        since=None,
        until=None,
    )
    asked.kept["tab"] = tab.key
    listed = tab.shown(db, rows, principal)
    if failed is not None and not any(row.id == failed[1] for row in listed):
        failed = None  # the row is not on this page any more: its errors go above the list
    if bad := asked.errors:
        status_code = status.HTTP_422_UNPROCESSABLE_CONTENT if status_code == 200 else status_code
    return render(
        request,
        "console/alarms/list.html",
        {
            "tabs": TABS,
            "tab": tab,
            "rows": listed,
            "page": Page.of(offset, DEFAULT_LIMIT, total),
            "base_query": asked.base_query(),
            "hut": hut or "",
            "kind": kind or "",
            "state": state_word or ReviewState.OPEN.value,
            "hut_options": [(h.id, f"{h.name} ({h.id})") for h in queries.list_huts(db)],
            "kind_options": [(value, gettext(text, lang)) for value, text in tab.kinds],
            "state_options": [
                *((s.value, gettext(STATE_NAMES[s], lang)) for s in tab.states),
                (ALL, gettext(N_("any state"), lang)),
            ],
            "state_names": {s.value: STATE_NAMES[s] for s in ReviewState},
            "gap_names": GAP_NAMES,
            "shown": shown,
            "filter_errors": bad,
            "failed": failed,
            "errors": errors,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/alarms")
def alarms_page(
    request: Request, principal: PageViewer, db: DbDep, settings: SettingsDep
) -> HTMLResponse:
    return list_page(request, db, principal, settings, request.query_params)


def _review(
    request: Request,
    db: Session,
    principal: Principal,
    settings: ServerSettings,
    now: Any,
    tab_key: str,
    record: str,
    form: dict[str, Any],
    step: str,
) -> Response:
    """Acknowledge or resolve (``step``) the row, then back to the list as it was (303);
    refused, the list with the reason beside the row's note (422, or the 409's text)."""
    back: dict[str, str] = {
        key: value
        for key in ("hut", "kind", "state", "offset")
        if isinstance(value := form.get(key), str) and value
    }
    back["tab"] = tab_key
    tab = BY_KEY.get(tab_key)
    record_id = row_id(record)
    lang = page_language(request)
    errors = FormErrors()
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if tab is None or record_id is None:
        errors.add(None, gettext(TEXT_NO_ROW, lang))
        return list_page(request, db, principal, settings, back, errors=errors, status_code=404)
    note = form.get("note") if isinstance(form.get("note"), str) else None
    try:
        stamp = Stamp(actor_of(principal, request), now)
        if step == "resolve":
            body = ResolveBody.model_validate({"note": note or ""})
            with staff_action():
                reviews.resolve(db, tab.kind, record_id, note=body.note, stamp=stamp)
        else:
            ack = AcknowledgeBody.model_validate({"note": (note or "").strip() or None})
            with staff_action():
                reviews.acknowledge(db, tab.kind, record_id, note=ack.note, stamp=stamp)
        db.commit()
        return RedirectResponse(f"/console/alarms?{urlencode(back)}", status.HTTP_303_SEE_OTHER)
    except ValidationError as exc:
        errors = field_errors(exc, lang)
    except HTTPException as exc:
        db.rollback()
        errors = errors_of(exc)
        code = exc.status_code
    return list_page(
        request,
        db,
        principal,
        settings,
        back,
        failed=(tab.key, record_id),
        errors=errors,
        status_code=code,
    )


@router.post("/alarms/{tab_key}/{record}/acknowledge")
def acknowledge(
    request: Request,
    tab_key: str,
    record: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    return _review(request, db, principal, settings, now, tab_key, record, form, "acknowledge")


@router.post("/alarms/{tab_key}/{record}/resolve")
def resolve(
    request: Request,
    tab_key: str,
    record: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    return _review(request, db, principal, settings, now, tab_key, record, form, "resolve")
