"""A console list's query parameters, read without trusting them: each bad one (an offset
that is no number, a status the list does not have, a hut id that cannot be one) is left
out of the filter and named in a message above the list, so the page still shows instead
of a 422 body or a trace."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlencode

from server.web.forms import FormErrors
from toolhut.contract import HUT_ID_PATTERN
from toolhut.i18n import N_, gettext

E = TypeVar("E", bound=StrEnum)

TEXT_BAD_OFFSET = N_("The page position {value!r} is not a number: the first page is shown.")
TEXT_BAD_CHOICE = N_("{value!r} is not one of the choices here: that filter is left out.")
TEXT_BAD_TEXT = N_("The search text is too long or holds control characters: it is left out.")
TEXT_BAD_HUT = N_("{value!r} is not a hut id: that filter is left out.")

_HUT = re.compile(HUT_ID_PATTERN)
MAX_OFFSET = 2**31 - 1


class ListQuery:
    """The parameters of one list request (or a posted form's), checked one by one;
    ``errors`` says what was left out, in the reader's language."""

    def __init__(self, params: Mapping[str, Any], lang: str) -> None:
        self.params = params
        self.lang = lang
        self.errors = FormErrors()
        self.kept: dict[str, str] = {}  # what the pager's links carry on

    def _refuse(self, name: str | None, text: str, value: str) -> None:
        """The message beside the filter ``name`` (None: above the list)."""
        self.errors.add(name, gettext(text, self.lang).format(value=value[:40]))

    def _raw(self, name: str) -> str | None:
        value = self.params.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def text(self, name: str, *, max_length: int = 100) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        if len(value) > max_length or any(ord(c) < 32 or ord(c) == 127 for c in value):
            self._refuse(name, TEXT_BAD_TEXT, "")
            return None
        self.kept[name] = value
        return value

    def choice(self, name: str, kind: type[E], *, allowed: Iterable[E] | None = None) -> E | None:
        value = self._raw(name)
        if value is None:
            return None
        options = list(allowed) if allowed is not None else list(kind)
        found = next((option for option in options if option.value == value), None)
        if found is None:
            self._refuse(name, TEXT_BAD_CHOICE, value)
            return None
        self.kept[name] = value
        return found

    def word(self, name: str, allowed: Iterable[str]) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        if value not in set(allowed):
            self._refuse(name, TEXT_BAD_CHOICE, value)
            return None
        self.kept[name] = value
        return value

    def hut(self, name: str = "hut") -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        if not _HUT.fullmatch(value):
            self._refuse(name, TEXT_BAD_HUT, value)
            return None
        self.kept[name] = value
        return value

    def offset(self) -> int:
        """The offset asked for (0 when it is no number or out of range)."""
        value = self._raw("offset")
        if value is None:
            return 0
        if not value.isdigit() or int(value) > MAX_OFFSET:
            self._refuse(None, TEXT_BAD_OFFSET, value)
            return 0
        return int(value)

    def base_query(self) -> str:
        """The filters kept, as the pager's links carry them on (without the offset)."""
        return urlencode(self.kept)
