"""One form written through the records code: its fields as the records model, the write
inside the API's ``staff_action``, committed; or, refused, rolled back with the messages
beside their fields. The console's community pages and the residents' wish pages both
write this way, so a page refuses what the API refuses, with the same words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from server.api.errors import staff_action
from server.web.forms import FormErrors, errors_of
from server.web.language import page_language


def filled(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The form's non-empty text fields among ``names`` (an empty one is left out, so the
    model's default or its "required" message applies)."""
    values = {}
    for name in names:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            values[name] = value.strip()
    return values


def written(
    request: Request, db: Session, model: type[BaseModel], values: Mapping[str, Any],
    write: Callable[[Any], Any],
) -> tuple[Any, FormErrors | None]:  # fmt: skip
    """``values`` as ``model``, written by ``write`` inside the API's ``staff_action`` and
    committed: (what ``write`` returned, None); or, refused, rolled back: (None, the
    errors beside their fields)."""
    try:
        fields = model.model_validate(values)
        with staff_action():
            result = write(fields)
        db.commit()
    except (ValidationError, HTTPException, RequestValidationError) as exc:
        db.rollback()
        return None, errors_of(exc, page_language(request))
    return result, None
