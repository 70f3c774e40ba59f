"""The cards that hang in the hut, as labels: which cards make up each set, and what each
says. The QR texts are toolhut.hut_cards' (the server parses the same ones)."""

from __future__ import annotations

from types import MappingProxyType

from labels.errors import LabelError
from labels.model import HutCard
from labels.texts import (
    CONDITION_CAPTIONS,
    RATING_SCORE_CAPTION,
    RATING_WORD_CAPTIONS,
    RETURN_HINT,
    SCORE_HINT,
    SIGN_IN_CAPTION,
    SIGN_IN_HINT,
)
from toolhut import hut_cards as codes
from toolhut.i18n import gettext

SETS = MappingProxyType(
    {
        "condition": tuple(codes.CONDITION_CARDS),
        "rating": tuple(codes.RATING_WORD_CARDS),
        "rating-1to5": tuple(codes.RATING_SCORE_CARDS),
        "sign-in": (codes.SIGN_IN_CARD,),
    }
)
ALL = "all"
SET_NAMES = (*SETS, ALL)
MAX_COPIES = 100


def hut_card(code: str) -> HutCard:
    """The card for one QR text (``COND:REPAIR``, ``RATE:GOOD``, ``RATE:4``, ``SIGNIN:PHONE``)."""
    score: int | None = None
    if code in codes.CONDITION_CARDS:
        caption, hint = CONDITION_CAPTIONS[codes.CONDITION_CARDS[code]], RETURN_HINT
    elif code in codes.RATING_WORD_CARDS:
        score = codes.RATING_WORD_CARDS[code]
        caption, hint = RATING_WORD_CAPTIONS[score], RETURN_HINT
    elif code in codes.RATING_SCORE_CARDS:
        score = codes.RATING_SCORE_CARDS[code]
        caption, hint = RATING_SCORE_CAPTION, SCORE_HINT
    elif code == codes.SIGN_IN_CARD:
        caption, hint = SIGN_IN_CAPTION, SIGN_IN_HINT
    else:
        raise LabelError(f"{code!r} is not a hut card: one of {', '.join(codes.ALL_CARDS)}")
    return HutCard(
        code=code,
        caption_zh=gettext(caption, "zh_CN").format(score=score),
        caption_en=gettext(caption, "en").format(score=score),
        hint_zh=gettext(hint, "zh_CN"),
        hint_en=gettext(hint, "en"),
        score=score,
    )


def hut_cards(which: str = ALL, *, copies: int = 1) -> list[HutCard]:
    """Every card of a set (``condition``, ``rating``, ``rating-1to5``, ``sign-in`` or
    ``all``), the whole set ``copies`` times over (one set for each door)."""
    if which != ALL and which not in SETS:
        raise LabelError(f"unknown set {which!r}: one of {', '.join(SET_NAMES)}")
    if not 1 <= copies <= MAX_COPIES:
        raise LabelError(f"copies {copies}: 1 to {MAX_COPIES}")
    chosen = [code for codes_ in SETS.values() for code in codes_] if which == ALL else SETS[which]
    return [hut_card(code) for code in chosen] * copies
