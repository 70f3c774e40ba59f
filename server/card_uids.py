"""A card UID as staff or a reader give it: checked before any query, so what is not a UID
(a NUL, a newline, 70 digits) is refused with a clear text instead of failing a query."""

from __future__ import annotations

import re

from toolhut.contract import CARD_UID_PATTERN
from toolhut.i18n import bilingual

# What staff read: Chinese first, English beside it.
TEXT_BAD_UID = bilingual("a card UID is 8-20 hex digits: {uid!r}")

_UID = re.compile(CARD_UID_PATTERN)


class InvalidCardError(ValueError):
    """Not a card UID."""


def card_uid(text: str) -> str:
    """``text`` as a stored UID (upper case, spaces around it dropped), or InvalidCardError.

    Only spaces are dropped: strip() would also take a newline or a NEL away."""
    uid = text.strip(" ").upper()
    if not _UID.fullmatch(uid):
        raise InvalidCardError(TEXT_BAD_UID.format(uid=text[:32]))
    return uid
