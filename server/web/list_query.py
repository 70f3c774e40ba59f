"""A console list's query parameters, checked one by one: a bad value (an unknown status,
``offset=abc``) becomes a message beside its filter and the filter is left out, so the
page still shows its list instead of a 422 or a trace."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from server.web.forms import FormErrors
from server.web.paging import MAX_LIMIT
from toolhut.contract import CONTROL_CHARS
from toolhut.i18n import N_

TEXT_NOT_A_CHOICE = N_("Choose one of the list.")
TEXT_NOT_A_NUMBER = N_("Give a whole number, 0 or more.")
TEXT_TOO_LONG_SEARCH = N_("Search for at most 100 characters.")
TEXT_BAD_CHARACTER = N_("This text holds a character that cannot be searched for.")
MAX_SEARCH = 100
MAX_BACK = 1000  # characters of a list's query a row's form carries back
MAX_OFFSET = 2**31 - 1


@dataclass
class ListQuery:
    """The parameters of one request, and what was wrong with them."""

    params: Mapping[str, str]
    errors: FormErrors = field(default_factory=FormErrors)

    def choice(self, name: str, allowed: Collection[str]) -> str | None:
        """The value if it is one of ``allowed``; empty or absent: None."""
        value = self.params.get(name) or None
        if value is not None and value not in allowed:
            self.errors.add(name, TEXT_NOT_A_CHOICE)
            return None
        return value

    def search(self, name: str = "q") -> str | None:
        value = (self.params.get(name) or "").strip() or None
        if value is None:
            return None
        if len(value) > MAX_SEARCH:
            self.errors.add(name, TEXT_TOO_LONG_SEARCH)
            return None
        if CONTROL_CHARS.search(value):
            self.errors.add(name, TEXT_BAD_CHARACTER)
            return None
        return value

    def whole(self, name: str, *, most: int = MAX_OFFSET) -> int | None:
        value = self.params.get(name)
        if not value:
            return None
        if not value.isascii() or not value.isdigit() or int(value) > most:
            self.errors.add(name, TEXT_NOT_A_NUMBER)
            return None
        return int(value)

    def window(self) -> tuple[int | None, int | None]:
        """``offset`` and ``limit`` (Page.of clamps the limit)."""
        return self.whole("offset"), self.whole("limit", most=MAX_LIMIT * 1000)


def back_to(form: Mapping[str, Any], keys: Collection[str]) -> dict[str, str]:
    """The list's query a row's form was posted from (its ``back`` field: the filters and
    the page), only ``keys`` of it; each is checked again when the list is shown."""
    text = form.get("back")
    if not isinstance(text, str) or len(text) > MAX_BACK:
        return {}
    return {key: value for key, value in parse_qsl(text) if key in keys}
