"""Ratings to read, for the API and console tests: 张阿姨 rates the drill 满意 at the hut
and the ladder 2 from her phone, with a comment; 李师傅 rates the screwdriver set 一般."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.domain.model import RatingSource
from server.records.ratings import rate_loan
from server.storage.models import Loan

from .test_ledger_flows import LI, ZHANG, Hut1

COMMENT = "梯子有点晃"


def rate_some(sessions: sessionmaker[Session]) -> None:
    """The three ratings above, on a seeded database; returns when they are committed."""
    hut = Hut1(sessions)
    for uid, tag, card in (
        (ZHANG, "T0001", "RATE:GOOD"),
        (ZHANG, "T0003", None),
        (LI, "T0007", "RATE:OK"),
    ):
        hut.visit(uid)
        hut.scan(tag)
        hut.close()
        hut.now += timedelta(hours=3)
        hut.visit(uid)
        hut.scan(tag)
        if card is not None:
            hut.scan(card)
        hut.close()
    with sessions.begin() as db:
        loan = db.scalars(select(Loan).order_by(Loan.id).offset(1)).first()
        assert loan is not None
        rate_loan(
            db, member_id=loan.member_id, loan_id=loan.id, score=2, comment=COMMENT,
            source=RatingSource.PHONE, now=hut.now + timedelta(hours=1), actor=Actor("resident"),
        )  # fmt: skip
