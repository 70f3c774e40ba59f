"""A refused body's errors (pydantic's, or the API's 422 built from the records code's) as
messages beside the fields of a console form: pydantic's own words in the reader's
language, the records code's (Chinese / English already) as they are."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from server.web.forms import FormErrors
from toolhut.i18n import N_, gettext

TEXT_REQUIRED = N_("Fill this in.")
TEXT_TOO_LONG = N_("This is too long.")
TEXT_NOT_VALID = N_("This value is not valid.")


def field_errors(exc: ValidationError | RequestValidationError, lang: str) -> FormErrors:
    """Each error beside the field its location names; a contact's by its whole dotted
    path (``contacts.0.address``), a list's member (``flags.0``) beside the list."""
    errors = FormErrors()
    for entry in exc.errors():
        loc = [str(part) for part in entry.get("loc", ()) if part not in ("body", "query")]
        kind = str(entry.get("type", ""))
        if kind in ("missing", "string_too_short", "too_short"):
            message = gettext(TEXT_REQUIRED, lang)
        elif kind in ("string_too_long", "too_long"):
            message = gettext(TEXT_TOO_LONG, lang)
        elif kind == "value_error":
            message = str(entry.get("msg", "")).removeprefix("Value error, ")
        else:
            message = gettext(TEXT_NOT_VALID, lang)
        name = ".".join(loc[:3] if loc and loc[0] == "contacts" else loc[:1]) or None
        errors.add(name, message)
    return errors
