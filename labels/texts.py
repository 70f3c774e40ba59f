"""Every text the labels print that is not the caller's data: Chinese first, English beside.
The texts come from the message catalogues (toolhut.i18n); a label is printed in Chinese,
the card's title in both languages."""

from __future__ import annotations

from toolhut.i18n import N_, gettext

ITEM_HINT = gettext(N_("Scan to borrow or return"))
SUPPLY_HINT = gettext(N_("Scan to take one"))  # supplies are taken, not lent
_CARD_TITLE = N_("Tool hut member card")
CARD_TITLE_ZH = gettext(_CARD_TITLE, "zh_CN")
CARD_TITLE_EN = gettext(_CARD_TITLE, "en")
