"""Staff put a hut into enrol mode for a member, and take it back.

``request_enrolment`` sends the gateway the enrol command through the command log
(server.hut_commands.issue), then writes the request (the hut's earlier waiting one is
superseded) and its audit entries; if the command does not go out it raises
CommandNotSentError with only the command log's row (``not_sent``) and its audit entry
written: no request. The tap that answers the request is the rule book's
(domain.hut_rules.enrol_read), at ingest. No HTTP here; the caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.access_actions import TEXT_NO_MEMBER
from server.domain.actors import Actor
from server.domain.ledger_state import EnrolmentStatus
from server.domain.model import MemberStatus
from server.hut_commands import CommandSender, issue
from server.staff_actions import NotFoundError
from server.storage import audit, enrolments, queries
from server.storage.audit import Stamp
from server.storage.models import EnrolmentRequest, Member
from toolhut.i18n import bilingual

# What staff read when a request cannot be made: Chinese first, English beside it.
TEXT_NO_HUT = bilingual("no such hut: {hut_id}")
TEXT_NO_REQUEST = bilingual("no such enrolment request: {request_id}")
TEXT_NOT_ACTIVE = bilingual("the member is {status}: no card can be enrolled")
TEXT_CLOSED = bilingual("the enrolment request is {state} already")


class MemberNotActiveError(Exception):
    """Enrol a card for a suspended member, or one who left: refused."""


class EnrolmentClosedError(Exception):
    """Cancel a request that is no longer waiting."""


def _entry(request: EnrolmentRequest, state: EnrolmentStatus) -> dict[str, object]:
    return {
        "hut_id": request.hut_id,
        "member_id": request.member_id,
        "state": state,
        "expires_at": request.expires_at,
    }


def _audit(
    db: Session,
    actor: Actor,
    action: str,
    request: EnrolmentRequest,
    *,
    at: datetime,
    **more: object,
) -> None:
    """One entry about ``request`` as it stands now (before: waiting, unless it is new)."""
    new = action == "enrolment.request"
    audit.record(
        db,
        actor=actor,
        action=action,
        entity="enrolment",
        entity_id=request.id,
        at=at,
        before=None if new else _entry(request, EnrolmentStatus.WAITING),
        after={**_entry(request, EnrolmentStatus(request.state)), **more},
    )


def request_enrolment(
    db: Session,
    *,
    hut_id: str,
    member_id: int,
    seconds: int,
    now: datetime,
    actor: Actor,
    send: CommandSender,
    reason: str | None = None,
) -> EnrolmentRequest:
    """A waiting request: the next card tapped at ``hut_id`` within ``seconds`` is bound to
    the member. Raises NotFoundError, MemberNotActiveError, CommandNotSentError."""
    check_hut(db, hut_id)
    member = db.get(Member, member_id)
    if member is None:
        raise NotFoundError(TEXT_NO_MEMBER.format(member_id=member_id))
    if member.status is not MemberStatus.ACTIVE:
        raise MemberNotActiveError(TEXT_NOT_ACTIVE.format(status=member.status.value))
    command = issue(
        db,
        hut_id=hut_id,
        action="enrol",
        seconds=seconds,
        stamp=Stamp(actor, now),
        send=send,
        reason=reason,
        member_id=member_id,
    )
    request, superseded = enrolments.add(
        db,
        hut_id=hut_id,
        member_id=member_id,
        command_id=command.id,
        requested_by=actor.name,
        now=now,
        expires_at=now + timedelta(seconds=seconds),
    )
    for old in superseded:
        _audit(db, actor, "enrolment.cancel", old, at=now, superseded_by=request.id)
    _audit(db, actor, "enrolment.request", request, at=now)
    return request


def check_hut(db: Session, hut_id: str) -> None:
    """NotFoundError for a hut that is not registered."""
    if queries.get_hut(db, hut_id) is None:
        raise NotFoundError(TEXT_NO_HUT.format(hut_id=hut_id))


def get_enrolment(db: Session, request_id: int) -> EnrolmentRequest:
    request = enrolments.get(db, request_id)
    if request is None:
        raise NotFoundError(TEXT_NO_REQUEST.format(request_id=request_id))
    return request


def cancel_enrolment(
    db: Session, *, request_id: int, now: datetime, actor: Actor
) -> EnrolmentRequest:
    """The request stops waiting; a tap at the hut is only listed from now on (the gateway
    stays in enrol mode until its window ends: the contract has no command to end it)."""
    request = get_enrolment(db, request_id)
    state = enrolments.status_of(request, now=now)
    if state is not EnrolmentStatus.WAITING:
        raise EnrolmentClosedError(TEXT_CLOSED.format(state=state.value))
    enrolments.close(request, EnrolmentStatus.CANCELLED, now=now)
    _audit(db, actor, "enrolment.cancel", request, at=now)
    return request


__all__ = [
    "EnrolmentClosedError",
    "MemberNotActiveError",
    "cancel_enrolment",
    "check_hut",
    "get_enrolment",
    "request_enrolment",
]
