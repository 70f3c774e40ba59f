"""A console form as posted, checked for its CSRF token, and what went wrong with it as
messages beside its fields.

The pages write through the same records and actions code as the API, inside the API's
``staff_action()``: its 422 names each bad field (``loc``), its 404/409 carry a reason.
``errors_of`` turns either into ``FormErrors`` for the template, so a page shows the
reason the records code gave, beside the field it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from server.api.field_messages import message
from server.web import csrf
from toolhut.i18n import N_

TEXT_CSRF = N_("This form has expired or did not come from this site: open the page again.")
TEXT_TOO_LONG = N_("A field of this form is far too long: nothing was saved.")
MAX_FIELD_CHARS = 10_000  # longer than any field of ours: a form past it is refused whole


class FormRefused(Exception):
    """A form without its CSRF token (or with a field past any sane size): 403, nothing
    written."""

    def __init__(self, message: str) -> None:
        self.message = message


@dataclass
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)  # field name -> its message
    general: list[str] = field(default_factory=list)  # what names no field

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.fields.setdefault(name, message)


def errors_of(
    exc: HTTPException | RequestValidationError | ValidationError, lang: str | None = None
) -> FormErrors:
    """The messages of a refused write: each 422 entry (or each field a records model
    refused) beside the field its ``loc`` ends with, in the catalogue's words (in ``lang``,
    the page's, else bilingual: server.api.field_messages), anything else above the form."""
    errors = FormErrors()
    if isinstance(exc, RequestValidationError | ValidationError):
        entries = (
            exc.errors(include_url=False) if isinstance(exc, ValidationError) else exc.errors()
        )
        for entry in entries:
            loc = [part for part in entry.get("loc", ()) if part not in ("body", "query")]
            name = str(loc[0]) if loc else None
            errors.add(name, message(dict(entry), lang))
        return errors
    detail: Any = exc.detail
    if isinstance(detail, dict):
        detail = (
            detail.get("display")
            or detail.get("text")  # a 409's reason as staff read it (stale, resolved ...)
            or detail.get("reason")
            or detail.get("detail")
            or detail
        )
    errors.add(None, str(detail))
    return errors


async def posted_form(request: Request) -> dict[str, Any]:
    """The posted fields (strings; an upload stays an UploadFile), after the CSRF check."""
    form = await request.form()
    if not csrf.valid(request, _text(form.get(csrf.FIELD))):
        raise FormRefused(TEXT_CSRF)
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == csrf.FIELD:
            continue
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            raise FormRefused(TEXT_TOO_LONG)
        if key in data and isinstance(value, str):
            previous = data[key]
            data[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[key] = value
    return data


def _text(value: str | UploadFile | None) -> str | None:
    return value if isinstance(value, str) else None


ConsoleForm = Annotated[dict[str, Any], Depends(posted_form)]
