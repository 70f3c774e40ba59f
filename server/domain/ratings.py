"""Ratings after a return, as pure rules: who may rate which loan, until when, and what a
rating changes (the rating itself; an anomaly for staff when a low score says why).

A loan has one rating: a later one (a second card scanned by mistake, a phone rating
after the hut's) replaces it. The three words of the cards and the phone page map to
scores: 满意 5, 一般 3, 不满意 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from server.domain.changes import AnomalyRaised, Change, LoanRated
from server.domain.ledger_state import AnomalyKind, LoanRef
from server.domain.model import RatingSource
from toolhut.hut_cards import SCORE_WORDS
from toolhut.i18n import N_

SCORES = range(1, 6)
LOW_SCORE = 2  # this or less, with a comment: staff look at it
MAX_COMMENT = 500  # characters
RATING_WINDOW = timedelta(days=30)  # after the return
# What the anomaly keeps of the comment (staff read the whole one with the rating).
ANOMALY_COMMENT_KEPT = 120

THANKS_TEXT = N_("Thank you for rating {name}")  # the hut's display: gettext


class RatingRefusal(StrEnum):
    NO_LOAN = "no_loan"
    NOT_YOURS = "not_yours"
    NOT_RETURNED = "not_returned"
    TOO_LATE = "too_late"
    BAD_SCORE = "bad_score"
    COMMENT_TOO_LONG = "comment_too_long"


REFUSAL_TEXT = MappingProxyType(
    {
        RatingRefusal.NO_LOAN: N_("There is no such loan"),
        RatingRefusal.NOT_YOURS: N_("This loan is not yours to rate"),
        RatingRefusal.NOT_RETURNED: N_("Only a returned loan can be rated"),
        RatingRefusal.TOO_LATE: N_("A return can be rated within 30 days only"),
        RatingRefusal.BAD_SCORE: N_("The score must be from 1 to 5"),
        RatingRefusal.COMMENT_TOO_LONG: N_("The comment may be 500 characters at most"),
    }
)


@dataclass(frozen=True, slots=True)
class RatedLoan:
    """A loan as a rating sees it: whose, what, and where and when it came back."""

    ref: LoanRef
    item_id: int
    member_id: int
    returned_at: datetime | None
    returned_hut_id: str | None


def window_open(returned_at: datetime, now: datetime) -> bool:
    """Whether a return at ``returned_at`` may still be rated ``now``."""
    return now - returned_at <= RATING_WINDOW


def refusal(
    loan: RatedLoan | None, *, member_id: int, score: int, comment: str, now: datetime
) -> RatingRefusal | None:
    """Why ``member_id`` may not rate ``loan`` so now, or None if they may."""
    if loan is None:
        return RatingRefusal.NO_LOAN
    if loan.member_id != member_id:
        return RatingRefusal.NOT_YOURS
    if loan.returned_at is None or loan.returned_hut_id is None:
        return RatingRefusal.NOT_RETURNED
    if not window_open(loan.returned_at, now):
        return RatingRefusal.TOO_LATE
    if score not in SCORES:
        return RatingRefusal.BAD_SCORE
    if len(comment) > MAX_COMMENT:
        return RatingRefusal.COMMENT_TOO_LONG
    return None


# A low rating's anomaly says "rated 2/5: <the start of the comment>".
_LOW_RATING_HEAD = "rated {score}/5"
_COMMENT_AFTER = ": "


def without_comment(detail: str) -> str:
    """A low rating's anomaly ``detail`` with the resident's comment taken out (their
    erasure): "rated 2/5" stays."""
    return detail.partition(_COMMENT_AFTER)[0]


def rate(
    loan: RatedLoan,
    *,
    hut_id: str,
    score: int,
    comment: str,
    source: RatingSource,
    now: datetime,
) -> tuple[Change, ...]:
    """The rating of ``loan`` (returned at ``hut_id``), and for a low score with a
    comment, the anomaly that puts it before staff."""
    comment = comment.strip()
    rated = LoanRated(loan.ref, loan.item_id, loan.member_id, hut_id, score, comment, source, now)
    if score > LOW_SCORE or not comment:
        return (rated,)
    kept = comment if len(comment) <= ANOMALY_COMMENT_KEPT else comment[: ANOMALY_COMMENT_KEPT - 1]
    kept += "" if kept == comment else "…"
    detail = f"{_LOW_RATING_HEAD.format(score=score)}{_COMMENT_AFTER}{kept}"
    anomaly = AnomalyRaised(
        hut_id, AnomalyKind.LOW_RATING, now, detail, item_id=loan.item_id, member_id=loan.member_id
    )
    return (rated, anomaly)


__all__ = [
    "LOW_SCORE",
    "MAX_COMMENT",
    "RATING_WINDOW",
    "REFUSAL_TEXT",
    "SCORES",
    "SCORE_WORDS",
    "THANKS_TEXT",
    "RatedLoan",
    "RatingRefusal",
    "rate",
    "refusal",
    "window_open",
    "without_comment",
]
