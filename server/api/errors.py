"""Staff actions' named errors as HTTP answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from server.access_actions import CardInUseError, MemberErasedError
from server.accounts.errors import AccountConflictError, AccountNotFoundError
from server.api.versioning import stale
from server.card_uids import InvalidCardError
from server.domain.record_errors import InvalidFieldsError, StaleVersionError
from server.domain.wishes import WishStepError
from server.enrolment_actions import EnrolmentClosedError, MemberNotActiveError
from server.hut_commands import CommandNotSentError
from server.records.member_privacy import TEXT_CANNOT_ERASE, CannotEraseError
from server.records.reviews import ReviewConflictError
from server.staff_actions import NotFoundError, RefusedError


@contextmanager
def staff_action() -> Iterator[None]:
    """404 for what does not exist; 409 with the rule's reason and display text for a no
    (or a card that is someone's already, a member who may not enrol a card, a request
    that is over); 503 when a command cannot reach the huts; 422 for what is not a card
    UID, in the shape the OpenAPI document gives every 422 (a list of errors, each with
    its location), so a client reads one shape whichever check refused the request; the
    same 422 for a record whose fields the records code refused (each named: a hut or
    category that does not exist, a tag taken). A stale edit is a 409 with the current
    version; a member whose data was erased, or who cannot be erased yet (with what is
    missing), a 409; so is a review of a flagged row no longer in the state the step
    starts from (acknowledging what is resolved), with its reason."""
    try:
        yield
    except (NotFoundError, AccountNotFoundError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except InvalidCardError as exc:
        error = {"type": "value_error", "loc": ("body", "uid"), "msg": str(exc), "input": None}
        raise RequestValidationError([error]) from exc
    except InvalidFieldsError as exc:
        errors = [
            {
                "type": "value_error",
                "loc": ("body", *_path(e.field)),
                "msg": e.reason,
                "input": None,
            }
            for e in exc.errors
        ]
        raise RequestValidationError(errors) from exc
    except StaleVersionError as exc:
        raise stale(exc.current) from exc
    except CannotEraseError as exc:
        detail = {"reason": "cannot_erase", "text": TEXT_CANNOT_ERASE, "missing": exc.missing}
        raise HTTPException(status.HTTP_409_CONFLICT, detail) from exc
    except AccountConflictError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"reason": exc.reason, "text": exc.text}
        ) from exc
    except (CardInUseError, MemberErasedError, MemberNotActiveError, EnrolmentClosedError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except CommandNotSentError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, exc.text) from exc
    except (ReviewConflictError, WishStepError) as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"reason": exc.reason, "text": exc.text}
        ) from exc
    except RefusedError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"reason": exc.reason.value, "text": exc.text}
        ) from exc


@contextmanager
def logged_if_not_sent(db: Session) -> Iterator[None]:
    """A command that did not go out stays in the command log (``not_sent``) with its audit
    entry: committed before ``staff_action`` turns the error into the 503."""
    try:
        yield
    except CommandNotSentError:
        db.commit()
        raise


def _path(field: str) -> list[str | int]:
    """ "contacts.0.channel" as the location FastAPI gives it: ["contacts", 0, "channel"]."""
    return [int(part) if part.isdigit() else part for part in field.split(".")]
