"""Ratings on SQLite and PostgreSQL: a rating card at the hut through the ledger, the
phone's rating through the records code (server/records/ratings.py), the summaries staff
read, and 60+ members first in a waiting list whose category says so."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.domain.actors import Actor
from server.domain.model import MemberFlag, MemberStatus, RatingSource
from server.domain.ratings import RatingRefusal
from server.records.ratings import RatingRefusedError, rate_loan
from server.seed import seed_demo
from server.storage import rating_queries as rq
from server.storage.models import (
    Anomaly,
    Card,
    ItemCategory,
    Loan,
    Member,
    MemberFlagRow,
    Reservation,
)
from server.storage.rating_models import LoanRating
from server.storage.staff_models import AuditEntry
from toolhut.contract import Beep

from .conftest import T0
from .test_ledger_flows import Hut1

ZHANG, LI, WANG = "04A1B2C3", "04D5E6F7", "04AA0060"
SHANGHAI_ZONE = ZoneInfo("Asia/Shanghai")
RESIDENT = Actor("resident")


@pytest.fixture
def hut(sessions: sessionmaker[Session]) -> Hut1:
    with sessions.begin() as db:
        seed_demo(db)
        wang = Member(name="王大爷", building_unit="1-101", status=MemberStatus.ACTIVE)
        wang.flag_rows = [MemberFlagRow(flag=MemberFlag.SENIOR)]
        db.add_all([wang, Card(uid=WANG, member=wang)])
    return Hut1(sessions)


def _borrow_and_return(hut: Hut1, tag: str = "T0001", uid: str = ZHANG) -> None:
    hut.visit(uid)
    hut.scan(tag)
    hut.close()
    hut.now += timedelta(days=1)
    hut.visit(uid)
    assert hut.text(hut.scan(tag)).startswith("已归还")


def _ratings(sessions: sessionmaker[Session]) -> list[tuple[int, str, RatingSource, str]]:
    with sessions() as db:
        rows = db.scalars(select(LoanRating).order_by(LoanRating.id))
        return [(r.score, r.comment, r.source, r.hut_id) for r in rows]


def _loan_id(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as db:
        loan = db.scalars(select(Loan).order_by(Loan.id.desc())).first()
        assert loan is not None
        return loan.id, loan.member_id


def test_a_rating_card_after_a_return_records_the_rating(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    _borrow_and_return(hut)
    assert hut.text(hut.scan("RATE:GOOD")) == "谢谢评价 电钻"
    assert _ratings(sessions) == [(5, "", RatingSource.HUT, "demo-hut")]
    # A second card in the session (the wrong one first): it replaces the first.
    assert hut.text(hut.scan("RATE:2")) == "谢谢评价 电钻"
    hut.close()
    assert _ratings(sessions) == [(2, "", RatingSource.HUT, "demo-hut")]
    loan_id, member_id = _loan_id(sessions)
    with sessions() as db:
        row = db.scalars(select(LoanRating)).one()
        assert (row.loan_id, row.member_id, row.rated_at) == (loan_id, member_id, hut.now)
        assert db.scalars(select(Anomaly)).all() == []  # a card has no comment


def test_a_rating_card_before_the_return_is_refused_and_records_nothing(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    hut.visit(ZHANG)
    ack = hut.scan("RATE:GOOD")
    assert hut.text(ack) == "请先归还物品，再扫评价卡"
    assert ack.feedback is not None and ack.feedback.beep is Beep.ERROR
    hut.scan("T0001")  # a borrow: still nothing to rate
    assert hut.text(hut.scan("RATE:OK")) == "请先归还物品，再扫评价卡"
    hut.close()
    assert _ratings(sessions) == []


def test_a_phone_rating_replaces_the_huts_and_a_low_one_with_a_comment_is_an_anomaly(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    _borrow_and_return(hut)
    hut.scan("RATE:GOOD")
    hut.close()
    loan_id, member_id = _loan_id(sessions)
    with sessions.begin() as db:
        row = rate_loan(
            db, member_id=member_id, loan_id=loan_id, score=1, comment=" 电池没电 ",
            source=RatingSource.PHONE, now=hut.now + timedelta(hours=2), actor=RESIDENT,
        )  # fmt: skip
        assert (row.score, row.comment, row.source) == (1, "电池没电", RatingSource.PHONE)
    assert _ratings(sessions) == [(1, "电池没电", RatingSource.PHONE, "demo-hut")]
    with sessions() as db:
        anomaly = db.scalars(select(Anomaly)).one()
        assert (anomaly.kind, anomaly.detail) == ("low_rating", "rated 1/5: 电池没电")
        assert (anomaly.member_id, anomaly.hut_id) == (member_id, "demo-hut")
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "loan.rating")).one()
        assert entry.before == {"score": 5}
        assert entry.after == {"score": 1, "source": "phone", "has_comment": True}
        assert "电池" not in repr(entry.after)  # the comment stays in the rating only


def test_the_phone_refuses_what_is_not_theirs_to_rate(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    _borrow_and_return(hut)
    hut.close()
    returned, zhang = _loan_id(sessions)
    hut.visit(LI)
    hut.scan("T0005")  # out, not returned
    hut.close()
    out, li = _loan_id(sessions)
    later = hut.now + timedelta(days=31)
    for member_id, loan_id, now, reason in (
        (li, returned, hut.now, RatingRefusal.NOT_YOURS),
        (li, out, hut.now, RatingRefusal.NOT_RETURNED),
        (zhang, returned, later, RatingRefusal.TOO_LATE),
        (zhang, 999_999, hut.now, RatingRefusal.NO_LOAN),
    ):
        with sessions.begin() as db, pytest.raises(RatingRefusedError) as refused:
            rate_loan(
                db, member_id=member_id, loan_id=loan_id, score=4, comment="",
                source=RatingSource.PHONE, now=now, actor=RESIDENT,
            )  # fmt: skip
        assert refused.value.reason is reason
    assert _ratings(sessions) == []


def test_summaries_per_item_and_per_hut(hut: Hut1, sessions: sessionmaker[Session]) -> None:
    for tag, card in (("T0001", "RATE:GOOD"), ("T0002", "RATE:BAD"), ("T0001", "RATE:OK")):
        _borrow_and_return(hut, tag)
        hut.scan(card)
        hut.close()
    loan_id, member_id = _loan_id(sessions)  # T0001's second loan
    with sessions.begin() as db:
        rate_loan(
            db, member_id=member_id, loan_id=loan_id, score=4, comment="还行",
            source=RatingSource.PHONE, now=hut.now, actor=RESIDENT,
        )  # fmt: skip
    with sessions() as db:
        drill = db.scalars(select(Loan.item_id).where(Loan.id == loan_id)).one()
        summary = rq.summary(db, rq.RatingFilter(item_id=drill))
        assert (summary.count, summary.average) == (2, 4.5)
        assert summary.spread == ((5, 1), (4, 1), (3, 0), (2, 0), (1, 0))
        assert [r.comment for r in summary.comments] == ["还行"]
        [place] = rq.by_hut(db, rq.RatingFilter())
        assert (place.id, place.count, place.average, place.low) == ("demo-hut", 3, 3.33, 1)
        items = rq.by_item(db, rq.RatingFilter(hut_id="demo-hut"))
        assert [(i.tag, i.count, i.average, i.low) for i in items] == [
            ("T0002", 1, 1.0, 1),
            ("T0001", 2, 4.5, 0),
        ]
        assert rq.summary(db, rq.RatingFilter(hut_id="hut-b")).count == 0
        month = rq.month_range("2026-11", SHANGHAI_ZONE)
        assert rq.summary(db, rq.RatingFilter(since=month[0], until=month[1])).count == 3
        december = rq.month_range("2026-12", SHANGHAI_ZONE)
        assert rq.summary(db, rq.RatingFilter(since=december[0], until=december[1])).count == 0
        low = db.scalars(rq.ratings(rq.RatingFilter(score=1))).all()
        assert [r.score for r in low] == [1]


@pytest.mark.parametrize("senior_first", [True, False])
def test_a_senior_waiting_goes_first_where_the_category_says_so(
    hut: Hut1, sessions: sessionmaker[Session], senior_first: bool
) -> None:
    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    with sessions.begin() as db:
        db.execute(
            update(ItemCategory)
            .where(ItemCategory.key == "power_tools")
            .values(senior_first=senior_first)
        )
        staff_actions.reserve(db, tag="T0001", card=LI, now=T0 + timedelta(minutes=1))
        staff_actions.reserve(db, tag="T0001", card=WANG, now=T0 + timedelta(minutes=2))
    hut.now += timedelta(hours=5)
    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    with sessions() as db:
        held = db.scalars(select(Reservation).where(Reservation.state == "held")).one()
        assert held.member.name == ("王大爷" if senior_first else "李师傅")
