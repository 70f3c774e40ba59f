"""Staff's enrolment requests (enrol the next card tapped at a hut for a member): added,
superseded, cancelled, and the hut's waiting one for the loader. A tap closes a request
through the rule book and the effect writer, not here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.domain.hut_rules import enrolment_status
from server.domain.ledger_state import EnrolmentState, EnrolmentStatus
from server.storage.models import EnrolmentRequest


def status_of(request: EnrolmentRequest, *, now: datetime) -> EnrolmentStatus:
    """The request's state as staff read it at ``now`` (a waiting one past its time has
    expired: computed on read, nothing sweeps)."""
    return enrolment_status(EnrolmentStatus(request.state), expires_at=request.expires_at, now=now)


def _waiting(hut_id: str) -> Select[EnrolmentRequest]:
    return (
        select(EnrolmentRequest)
        .where(
            EnrolmentRequest.hut_id == hut_id,
            EnrolmentRequest.state == EnrolmentStatus.WAITING.value,
        )
        .order_by(EnrolmentRequest.created_at.desc(), EnrolmentRequest.id.desc())
    )


def waiting_at(db: Session, hut_id: str) -> EnrolmentState | None:
    """The hut's newest waiting request (expired or not: the rule judges at the tap's
    time), as the rules read it."""
    request = db.scalars(_waiting(hut_id).limit(1)).first()
    if request is None:
        return None
    return EnrolmentState(
        request.id,
        request.member_id,
        request.created_at,
        request.expires_at,
        request.requested_by,
    )


def add(
    db: Session,
    *,
    hut_id: str,
    member_id: int,
    command_id: str,
    requested_by: str,
    now: datetime,
    expires_at: datetime,
) -> tuple[EnrolmentRequest, list[EnrolmentRequest]]:
    """A new waiting request; the hut's earlier waiting ones are closed (cancelled, or
    expired if past their time). Returns the new one and those it closed."""
    superseded = list(db.scalars(_waiting(hut_id)))
    for old in superseded:
        expired = status_of(old, now=now) is EnrolmentStatus.EXPIRED
        close(old, EnrolmentStatus.EXPIRED if expired else EnrolmentStatus.CANCELLED, now=now)
    request = EnrolmentRequest(
        hut_id=hut_id,
        member_id=member_id,
        command_id=command_id,
        requested_by=requested_by,
        created_at=now,
        expires_at=expires_at,
        state=EnrolmentStatus.WAITING.value,
    )
    db.add(request)
    db.flush()
    return request, superseded


def close(request: EnrolmentRequest, state: EnrolmentStatus, *, now: datetime) -> None:
    if state is EnrolmentStatus.WAITING:
        raise ValueError("a closed request is not waiting")
    request.state = state.value
    request.closed_at = now


def get(db: Session, request_id: int) -> EnrolmentRequest | None:
    return db.get(EnrolmentRequest, request_id)


__all__ = ["add", "close", "get", "status_of", "waiting_at"]
