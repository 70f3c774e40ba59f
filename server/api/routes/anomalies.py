"""What the ledger and the ingest set aside for staff: anomalies (an item back that was not
on loan, a door opened with nothing scanned, a scan by nobody ...), sequence gaps (events
of a hut that never came, or a gateway that numbered again) and dead letters (messages
refused, with why). Listed by everyone signed in, newest first; acknowledged and resolved
by staff and admins with a note, each step in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import ViewerDep, ViewerOnly
from server.api.deps import DbDep, SettingsDep
from server.api.listing import Listing, PageDep, listing
from server.api.review_schemas import AnomalyOut, DeadLetterOut, SequenceGapOut
from server.api.reviewing import Since, Until, add_review_routes, page_newest_first
from server.domain.ledger_state import AnomalyKind
from server.domain.roles import Role
from server.records import reviews
from server.records.reviews import ReviewState
from server.settings import ServerSettings
from server.storage.ingest_models import GapKind, SequenceGap
from server.storage.models import Anomaly, Item, RejectedMessage
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["anomalies"], dependencies=[ViewerOnly])

HutQuery = Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")]
StateQuery = Annotated[
    ReviewState | None, Query(description="open: not resolved; acknowledged; resolved")
]


# Anomalies.

ANOMALY_SORTS = {"created_at": Anomaly.created_at, "id": Anomaly.id}


def shown_anomalies(db: Session, rows: list[Any], _principal: Principal) -> list[AnomalyOut]:
    names = reviews.reviewers(db, rows)
    item_ids = {row.item_id for row in rows if row.item_id is not None}
    tags = (
        dict(db.execute(select(Item.id, Item.tag).where(Item.id.in_(item_ids))).tuples().all())
        if item_ids
        else {}
    )
    return [AnomalyOut.of(row, names, tags) for row in rows]


def anomalies_query(hut: str | None, kind: AnomalyKind | None) -> Select[Any]:
    """Anomalies of ``hut`` and ``kind`` (either None: any), for this route and the console."""
    query = select(Anomaly)
    if hut is not None:
        query = query.where(Anomaly.hut_id == hut)
    if kind is not None:
        query = query.where(Anomaly.kind == kind.value)
    return query


@router.get("/anomalies")
def list_anomalies(
    db: DbDep,
    page: PageDep,
    principal: ViewerDep,
    hut: HutQuery = None,
    kind: AnomalyKind | None = None,
    state: StateQuery = None,
    since: Since = None,
    until: Until = None,
) -> Listing[AnomalyOut]:
    """Newest first (by ``created_at``) unless ``sort`` says otherwise."""
    rows, total = page_newest_first(
        db,
        anomalies_query(hut, kind),
        page,
        kind=reviews.ANOMALIES,
        at=Anomaly.created_at,
        sorts=ANOMALY_SORTS,
        state=state,
        since=since,
        until=until,
    )
    return listing(shown_anomalies(db, rows, principal), total, page)


# Sequence gaps.

GAP_SORTS = {"detected_at": SequenceGap.detected_at, "id": SequenceGap.id}


def shown_gaps(db: Session, rows: list[Any], _principal: Principal) -> list[SequenceGapOut]:
    names = reviews.reviewers(db, rows)
    return [SequenceGapOut.of(row, names) for row in rows]


def gaps_query(hut: str | None, kind: str | None) -> Select[Any]:
    """Sequence gaps of ``hut`` and ``kind`` (missing, reset; None: any)."""
    query = select(SequenceGap)
    if hut is not None:
        query = query.where(SequenceGap.hut_id == hut)
    if kind is not None:
        query = query.where(SequenceGap.kind == kind)
    return query


@router.get("/sequence-gaps")
def list_sequence_gaps(
    db: DbDep,
    page: PageDep,
    principal: ViewerDep,
    hut: HutQuery = None,
    kind: Annotated[str | None, Query(pattern=f"^({GapKind.MISSING}|{GapKind.RESET})$")] = None,
    state: StateQuery = None,
    since: Since = None,
    until: Until = None,
) -> Listing[SequenceGapOut]:
    """Newest first (by ``detected_at``) unless ``sort`` says otherwise."""
    rows, total = page_newest_first(
        db,
        gaps_query(hut, kind),
        page,
        kind=reviews.SEQUENCE_GAPS,
        at=SequenceGap.detected_at,
        sorts=GAP_SORTS,
        state=state,
        since=since,
        until=until,
    )
    return listing(shown_gaps(db, rows, principal), total, page)


# Dead letters.

LETTER_SORTS = {"received_at": RejectedMessage.received_at, "id": RejectedMessage.id}


def shown_letters(db: Session, rows: list[Any], principal: Principal) -> list[DeadLetterOut]:
    """The payload's first bytes to staff and admins only (they may hold a card UID)."""
    names = reviews.reviewers(db, rows)
    with_payload = principal.allows(Role.STAFF)
    return [DeadLetterOut.of(row, names, with_payload=with_payload) for row in rows]


def letters_query(settings: ServerSettings, hut: str | None) -> Select[Any]:
    """Dead letters, those that came on ``hut``'s events topic if it is given (a refused
    message's own words are not trusted)."""
    query = select(RejectedMessage)
    if hut is not None:
        query = query.where(RejectedMessage.topic == settings.topics.events(hut))
    return query


@router.get("/dead-letters")
def list_dead_letters(
    db: DbDep,
    page: PageDep,
    principal: ViewerDep,
    settings: SettingsDep,
    hut: Annotated[
        str | None, Query(pattern=HUT_ID_PATTERN, description="hut id: its events topic")
    ] = None,
    state: StateQuery = None,
    since: Since = None,
    until: Until = None,
) -> Listing[DeadLetterOut]:
    """Newest first (by ``received_at``) unless ``sort`` says otherwise. ``hut``: those
    that came on the hut's events topic (a refused message's own words are not trusted)."""
    rows, total = page_newest_first(
        db,
        letters_query(settings, hut),
        page,
        kind=reviews.DEAD_LETTERS,
        at=RejectedMessage.received_at,
        sorts=LETTER_SORTS,
        state=state,
        since=since,
        until=until,
    )
    return listing(shown_letters(db, rows, principal), total, page)


for path, kind, out, shown, what in (
    ("/anomalies", reviews.ANOMALIES, AnomalyOut, shown_anomalies, "an anomaly"),
    ("/sequence-gaps", reviews.SEQUENCE_GAPS, SequenceGapOut, shown_gaps, "a sequence gap"),
    ("/dead-letters", reviews.DEAD_LETTERS, DeadLetterOut, shown_letters, "a dead letter"),
):
    add_review_routes(router, path=path, kind=kind, out=out, shown=shown, what=what)
