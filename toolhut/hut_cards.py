"""The QR texts of the cards that hang in the hut beside the scanner: the condition cards
(how the item just returned came back), the rating cards (how the loan went) and the phone
sign-in card. One owner for both ends: the server parses them (``server.domain.labels``)
and ``labels`` prints them. A colon never occurs in an item tag, so no card can be taken
for an item."""

from __future__ import annotations

from types import MappingProxyType

from toolhut.i18n import N_

# Condition card -> the value of the server's ItemCondition it stands for.
CONDITION_CARDS = MappingProxyType(
    {
        "COND:OK": "ok",
        "COND:REPAIR": "needs_repair",
        "COND:MISSING": "missing_part",
    }
)

# Rating cards -> score: the three words (满意 / 一般 / 不满意), and the scores 1 to 5, for a
# resident with no smartphone to rate their return.
RATING_WORD_CARDS = MappingProxyType({"RATE:GOOD": 5, "RATE:OK": 3, "RATE:BAD": 1})
RATING_SCORE_CARDS = MappingProxyType({f"RATE:{score}": score for score in range(1, 6)})
RATING_CARDS = MappingProxyType({**RATING_WORD_CARDS, **RATING_SCORE_CARDS})
# The words a resident picks from, by score: on the word cards and on the phone's form.
SCORE_WORDS = MappingProxyType({5: N_("Satisfied"), 3: N_("So-so"), 1: N_("Not satisfied")})

# Scanned in a door session a member's card opened: the display shows that member a
# one-time code for the resident pages.
SIGN_IN_CARD = "SIGNIN:PHONE"

ALL_CARDS = (*CONDITION_CARDS, *RATING_CARDS, SIGN_IN_CARD)
