"""Staff actions' named errors as HTTP answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError

from server.access_actions import CardInUseError
from server.accounts.errors import AccountConflictError, AccountNotFoundError
from server.api.versioning import stale
from server.card_uids import InvalidCardError
from server.domain.record_errors import InvalidFieldsError, StaleVersionError
from server.staff_actions import NotFoundError, RefusedError


@contextmanager
def staff_action() -> Iterator[None]:
    """404 for what does not exist; 409 with the rule's reason and display text for a no
    (or a card that is someone's already); 422 for what is not a card UID, in the shape
    the OpenAPI document gives every 422 (a list of errors, each with its location), so a
    client reads one shape whichever check refused the request; 409 with the current
    version for an edit of a stale one."""
    try:
        yield
    except (NotFoundError, AccountNotFoundError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except InvalidCardError as exc:
        error = {"type": "value_error", "loc": ("body", "uid"), "msg": str(exc), "input": None}
        raise RequestValidationError([error]) from exc
    except InvalidFieldsError as exc:
        errors = [
            {"type": "value_error", "loc": ("body", e.field), "msg": e.reason, "input": None}
            for e in exc.errors
        ]
        raise RequestValidationError(errors) from exc
    except StaleVersionError as exc:
        raise stale(exc.current) from exc
    except AccountConflictError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"reason": exc.reason, "text": exc.text}
        ) from exc
    except CardInUseError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except RefusedError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"reason": exc.reason.value, "text": exc.text}
        ) from exc
