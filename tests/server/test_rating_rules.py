"""Ratings after a return, pure: the rating cards at the hut (server/domain/hut_rules.py)
and the rules both they and the phone follow (server/domain/ratings.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.domain import Action, ItemStatus, Refusal
from server.domain.changes import AnomalyRaised, DoorChanged, LoanRated, ScanRecorded
from server.domain.labels import RATING_CARDS, about_last_return, parse_rating_text
from server.domain.ledger_state import AnomalyKind, ReturnedLoan
from server.domain.model import RatingSource
from server.domain.ratings import (
    MAX_COMMENT,
    RATING_WINDOW,
    RatedLoan,
    RatingRefusal,
    rate,
    refusal,
    without_comment,
)
from server.domain.rule_book import decide
from tests.server.domain_cases import NOW
from tests.server.rule_builders import DOOR, LI_CARD, LOAN, after_scan, item, scan, snapshot

RETURNED = ReturnedLoan(LOAN, item(status=ItemStatus.AVAILABLE))
RETURNED_LOAN = RatedLoan(41, 7, 1, NOW - timedelta(days=1), "demo-hut")


def _rated(score: int) -> LoanRated:
    return LoanRated(41, 7, 1, "demo-hut", score, "", RatingSource.HUT, NOW)


def _scanned(text: str, action: Action, reason: Refusal | None = None) -> tuple[object, ...]:
    return (
        DoorChanged(after_scan(DOOR)),
        ScanRecorded(DOOR.ref, 5, NOW, text, None, action, reason, None),
    )


@pytest.mark.parametrize(
    ("text", "score"),
    [("RATE:GOOD", 5), ("RATE:OK", 3), ("rate:bad", 1), (" RATE:4 ", 4), ("RATE:1", 1)],
)
def test_the_cards_stand_for_their_scores(text: str, score: int) -> None:
    assert parse_rating_text(text) == score
    assert about_last_return(text)


def test_other_texts_are_no_rating_cards() -> None:
    for text in ("RATE:6", "RATE:0", "RATE:", "T0001", "COND:OK", "RATE:GOOD:5"):
        assert parse_rating_text(text) is None
    assert about_last_return("COND:OK") and not about_last_return("T0001")
    assert set(RATING_CARDS.values()) == {1, 2, 3, 4, 5}


def test_a_rating_card_after_a_return_rates_it_and_thanks() -> None:
    effects = decide(snapshot(returned=RETURNED), scan("RATE:GOOD"))
    assert effects.decision is not None and effects.decision.action is Action.RATE
    assert effects.feedback is not None and effects.feedback.ok
    assert effects.feedback.text == "谢谢评价 电钻"
    assert effects.changes == (_rated(5), *_scanned("RATE:GOOD", Action.RATE))


def test_a_bad_card_is_a_low_score_but_no_anomaly_without_a_comment() -> None:
    effects = decide(snapshot(returned=RETURNED), scan("RATE:BAD"))
    assert effects.changes == (_rated(1), *_scanned("RATE:BAD", Action.RATE))


def test_a_rating_card_before_any_return_is_refused_with_what_to_do() -> None:
    effects = decide(snapshot(returned=None), scan("RATE:OK"))
    assert effects.reason is Refusal.NOTHING_RETURNED
    assert effects.feedback is not None and not effects.feedback.ok
    assert effects.feedback.text == "请先归还物品，再扫评价卡"
    refused = _scanned("RATE:OK", Action.REFUSE, Refusal.NOTHING_RETURNED)
    assert effects.changes == refused


def test_a_rating_card_with_no_session_is_refused() -> None:
    effects = decide(snapshot(door=None, card=None), scan("RATE:OK", card_uid=None, door_key=None))
    assert effects.reason is Refusal.NO_SESSION
    assert effects.feedback is not None and effects.feedback.text == "请先刷卡"
    assert not any(isinstance(change, LoanRated) for change in effects.changes)


def test_a_neighbour_who_returned_anothers_item_cannot_rate_it() -> None:
    effects = decide(snapshot(card=LI_CARD, returned=RETURNED), scan("RATE:GOOD"))
    assert effects.reason is Refusal.NOT_THE_BORROWER
    assert not any(isinstance(change, LoanRated) for change in effects.changes)


def test_a_low_score_with_a_comment_is_an_anomaly_for_staff() -> None:
    changes = rate(
        RETURNED_LOAN, hut_id="hut-b", score=2, comment="  chuck is loose ",
        source=RatingSource.PHONE, now=NOW,
    )  # fmt: skip
    assert changes == (
        LoanRated(41, 7, 1, "hut-b", 2, "chuck is loose", RatingSource.PHONE, NOW),
        AnomalyRaised(
            "hut-b", AnomalyKind.LOW_RATING, NOW, "rated 2/5: chuck is loose", item_id=7,
            member_id=1,
        ),
    )  # fmt: skip


def test_a_good_score_with_a_comment_or_a_blank_comment_raises_nothing() -> None:
    for score, comment in ((3, "fine"), (5, "great"), (1, "   ")):
        changes = rate(
            RETURNED_LOAN, hut_id="demo-hut", score=score, comment=comment,
            source=RatingSource.PHONE, now=NOW,
        )  # fmt: skip
        assert [type(change) for change in changes] == [LoanRated]


def test_the_anomaly_keeps_the_start_of_a_long_comment() -> None:
    changes = rate(
        RETURNED_LOAN, hut_id="demo-hut", score=1, comment="x" * 400,
        source=RatingSource.PHONE, now=NOW,
    )  # fmt: skip
    anomaly = changes[1]
    assert isinstance(anomaly, AnomalyRaised)
    assert anomaly.detail.endswith("…") and len(anomaly.detail) < 140


def test_an_erased_comment_leaves_the_score_in_the_anomaly() -> None:
    changes = rate(
        RETURNED_LOAN, hut_id="demo-hut", score=1, comment="door: broken: 3-201",
        source=RatingSource.PHONE, now=NOW,
    )  # fmt: skip
    anomaly = changes[1]
    assert isinstance(anomaly, AnomalyRaised)
    assert without_comment(anomaly.detail) == "rated 1/5"
    assert without_comment("rated 1/5") == "rated 1/5"  # erased twice: the same


@pytest.mark.parametrize(
    ("loan", "member_id", "score", "comment", "now", "reason"),
    [
        (None, 1, 5, "", NOW, RatingRefusal.NO_LOAN),
        (RETURNED_LOAN, 2, 5, "", NOW, RatingRefusal.NOT_YOURS),
        (RatedLoan(41, 7, 1, None, None), 1, 5, "", NOW, RatingRefusal.NOT_RETURNED),
        (RETURNED_LOAN, 1, 5, "", NOW + RATING_WINDOW, RatingRefusal.TOO_LATE),
        (RETURNED_LOAN, 1, 0, "", NOW, RatingRefusal.BAD_SCORE),
        (RETURNED_LOAN, 1, 6, "", NOW, RatingRefusal.BAD_SCORE),
        (RETURNED_LOAN, 1, 4, "x" * (MAX_COMMENT + 1), NOW, RatingRefusal.COMMENT_TOO_LONG),
    ],
)
def test_who_may_rate_what_and_until_when(
    loan: RatedLoan | None,
    member_id: int,
    score: int,
    comment: str,
    now: object,
    reason: RatingRefusal,
) -> None:
    assert refusal(loan, member_id=member_id, score=score, comment=comment, now=now) is reason  # type: ignore[arg-type]


def test_the_borrower_may_rate_a_return_within_the_window() -> None:
    last_day = RETURNED_LOAN.returned_at + RATING_WINDOW  # type: ignore[operator]
    for score in range(1, 6):
        assert refusal(RETURNED_LOAN, member_id=1, score=score, comment="", now=last_day) is None
    assert refusal(RETURNED_LOAN, member_id=1, score=3, comment="x" * MAX_COMMENT, now=NOW) is None
