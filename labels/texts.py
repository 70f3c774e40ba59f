"""Every text the labels print that is not the caller's data: Chinese first, English beside.
The texts come from the message catalogues (toolhut.i18n); a label is printed in Chinese,
the card's title in both languages."""

from __future__ import annotations

from toolhut.hut_cards import SCORE_WORDS
from toolhut.i18n import N_, gettext

ITEM_HINT = gettext(N_("Scan to borrow or return"))
SUPPLY_HINT = gettext(N_("Scan to take one"))  # supplies are taken, not lent
_CARD_TITLE = N_("Tool hut member card")
CARD_TITLE_ZH = gettext(_CARD_TITLE, "zh_CN")
CARD_TITLE_EN = gettext(_CARD_TITLE, "en")

# The cards that hang in the hut (labels/hut_cards.py): a caption and a one-line hint each,
# printed in Chinese and in English. Condition captions by the condition they stand for,
# rating captions by score (the words residents pick on the phone too).
CONDITION_CAPTIONS = {
    "ok": N_("Good"),
    "needs_repair": N_("It needs repair"),
    "missing_part": N_("A part is missing"),
}
RATING_WORD_CAPTIONS = SCORE_WORDS
RATING_SCORE_CAPTION = N_("{score} of 5")
SIGN_IN_CAPTION = N_("Sign in on my phone")
RETURN_HINT = N_("Scan after a return")
SCORE_HINT = N_("Scan after a return: 5 is best")
SIGN_IN_HINT = N_("Tap your card, then scan: the display shows a code")
