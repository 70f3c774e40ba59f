"""What a scanned QR label says: a bare tag, the item page URL printed on it, one of the
condition cards that hang in the hut (scanned after an item to say how it came back), or
one of the rating cards beside them (scanned after a return to say how it went), or the
phone sign-in card (scanned after a card tap: the display shows a sign-in code). The
cards' texts are ``toolhut.hut_cards``'; ``labels`` prints them."""

from __future__ import annotations

import re
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

from server.domain.model import ItemCondition
from toolhut import hut_cards

TAG_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,31}$"
_TAG = re.compile(TAG_PATTERN)
_ITEM_PATH = "/i/"


def parse_scan_text(text: str) -> str | None:
    """The item tag in ``T0001`` or ``<any base>/i/T0001``; None if it holds no tag."""
    text = text.strip()
    if _ITEM_PATH in text:
        path = urlsplit(text).path if "://" in text else text.split("?")[0].split("#")[0]
        path = path.rstrip("/")
        at = path.rfind(_ITEM_PATH)
        if at < 0:
            return None
        text = unquote(path[at + len(_ITEM_PATH) :])
        if "/" in text:
            return None
    tag = text.upper()
    return tag if _TAG.fullmatch(tag) else None


# The condition cards' QR texts are toolhut.hut_cards' (labels prints them), as conditions.
CONDITION_CARDS = MappingProxyType(
    {code: ItemCondition(value) for code, value in hut_cards.CONDITION_CARDS.items()}
)


def parse_condition_text(text: str) -> ItemCondition | None:
    """The condition a condition card stands for (``COND:REPAIR`` ...); None for anything else."""
    return CONDITION_CARDS.get(text.strip().upper())


RATING_CARDS = hut_cards.RATING_CARDS  # RATE:GOOD -> 5 ...


def parse_rating_text(text: str) -> int | None:
    """The score (1..5) a rating card stands for (``RATE:GOOD`` ...); None for anything else."""
    return RATING_CARDS.get(text.strip().upper())


def about_last_return(text: str) -> bool:
    """A condition card or a rating card: about the door session's last return."""
    return parse_condition_text(text) is not None or parse_rating_text(text) is not None


SIGN_IN_CARD = hut_cards.SIGN_IN_CARD


def is_sign_in_card(text: str) -> bool:
    return text.strip().upper() == SIGN_IN_CARD
