"""What a 422 says of a field, from the message catalogues: pydantic's own English
messages ("Field required", "Input should be a valid integer") become the product's
texts, Chinese first ("请填写此项 / This field is required"), by the error's ``type`` and
with its limits (``ctx``). The records code's own reasons (type ``value_error``) are the
product's texts already and pass through, without pydantic's "Value error, " prefix."""

from __future__ import annotations

from typing import Any

from toolhut.i18n import N_, bilingual, gettext

_BY_TYPE = {
    "missing": N_("This field is required."),
    "string_too_short": N_("Too short: at least {min_length} characters."),
    "string_too_long": N_("Too long: at most {max_length} characters."),
    "too_short": N_("Too few: at least {min_length}."),
    "too_long": N_("Too many: at most {max_length}."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "float_type": N_("Enter a number."),
    "greater_than": N_("Must be more than {gt}."),
    "greater_than_equal": N_("Must be at least {ge}."),
    "less_than": N_("Must be less than {lt}."),
    "less_than_equal": N_("Must be at most {le}."),
    "enum": N_("Choose one of: {expected}."),
    "literal_error": N_("Choose one of: {expected}."),
    "string_pattern_mismatch": N_("This is not in the expected form."),
    "string_type": N_("Enter text."),
    "bool_parsing": N_("Enter yes or no."),
    "bool_type": N_("Enter yes or no."),
    "date_parsing": N_("Enter a date (YYYY-MM-DD)."),
    "date_from_datetime_parsing": N_("Enter a date (YYYY-MM-DD)."),
    "datetime_parsing": N_("Enter a date and time (YYYY-MM-DD HH:MM)."),
    "datetime_from_date_parsing": N_("Enter a date and time (YYYY-MM-DD HH:MM)."),
    "time_parsing": N_("Enter a time (HH:MM)."),
    "json_invalid": N_("The request body is not valid JSON."),
    "model_attributes_type": N_("The request body must be a JSON object."),
    "dict_type": N_("The request body must be a JSON object."),
    "list_type": N_("Enter a list."),
    "extra_forbidden": N_("This field is not known here."),
    "url_parsing": N_("Enter a web address."),
}
_VALUE_ERROR_PREFIX = "Value error, "


def message(error: dict[str, Any], lang: str | None = None) -> str:
    """The catalogue's text for one pydantic or records error, in ``lang`` (a page's) or
    bilingual (None: the API's), or its own message where the catalogue has none for its
    type."""
    kind = error.get("type", "")
    if kind == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        kind = "missing"  # an empty required field: "fill this in", not "1 character"
    text = _BY_TYPE.get(kind)
    msg = str(error.get("msg", ""))
    if text is None:
        return msg.removeprefix(_VALUE_ERROR_PREFIX)
    context = {key: _shown(value) for key, value in (error.get("ctx") or {}).items()}
    try:
        shown = bilingual(text) if lang is None else gettext(text, lang)
        return shown.format(**context)
    except (KeyError, IndexError):  # a limit the message names is not in this error
        return msg


def _shown(value: Any) -> str:
    return str(value).replace("'", "")
