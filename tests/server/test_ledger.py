from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import ItemStatus
from server.ledger import AnyEvent, apply_event
from server.seed import seed_demo
from server.storage import queries
from server.storage.models import EventRecord, Hut, Loan
from toolhut.contract import Beep, EventAck, Outcome

from .conftest import T0
from .factories import card, door, scan


def _apply(sessions: sessionmaker[Session], event: AnyEvent, *, at: datetime = T0) -> EventAck:
    with sessions.begin() as session:
        hut = session.get(Hut, event.hut)
        assert hut is not None
        return apply_event(session, event, hut=hut, received_at=at)


def test_borrow_then_return_then_replay(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        seed_demo(session)
    borrow = scan("demo-hut", 1, "https://hut.example.org/i/T0001")
    ack = _apply(sessions, borrow)
    assert ack.outcome is Outcome.APPLIED
    assert ack.feedback is not None and ack.feedback.beep is Beep.OK
    assert ack.feedback.text == "已借出 电钻 还期11-30"
    with sessions() as session:
        shelf = queries.find_item(session, "T0001")
        assert shelf is not None and shelf.item.status is ItemStatus.ON_LOAN
        assert shelf.loan is not None and shelf.loan.member.name == "张阿姨"
        assert shelf.loan.due_at == T0 + timedelta(days=3)

    # Someone else brings it back, without a card.
    back = scan("demo-hut", 2, "T0001", card=None, ts=T0 + timedelta(hours=5))
    ack = _apply(sessions, back, at=T0 + timedelta(hours=6))
    assert ack.outcome is Outcome.APPLIED
    assert ack.feedback is not None and ack.feedback.text == "已归还 电钻"

    # Replaying both changes nothing.
    for event in (borrow, back):
        assert _apply(sessions, event, at=T0 + timedelta(days=1)).outcome is Outcome.DUPLICATE
    with sessions() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.returned_at == T0 + timedelta(hours=5)  # the gateway's time
        assert loan.returned_hut_id == "demo-hut"
        shelf = queries.find_item(session, "T0001")
        assert shelf is not None and shelf.item.status is ItemStatus.AVAILABLE
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 2


def test_refused_scan_and_unknown_card_are_recorded_as_rejected(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        seed_demo(session)
    ack = _apply(sessions, scan("demo-hut", 1, "T0001", card="DEADBEEF"))
    assert ack.outcome is Outcome.REJECTED
    assert ack.feedback is not None and ack.feedback.beep is Beep.ERROR
    assert ack.feedback.text == "未知卡片"
    assert _apply(sessions, card("demo-hut", 2, "DEADBEEF")).outcome is Outcome.REJECTED
    known = _apply(sessions, card("demo-hut", 3))
    assert known.outcome is Outcome.APPLIED and known.feedback is None
    assert _apply(sessions, door("demo-hut", 4)).outcome is Outcome.APPLIED
    with sessions() as session:
        rows = session.scalars(select(EventRecord).order_by(EventRecord.seq)).all()
        assert [(r.type, r.outcome, r.reason) for r in rows] == [
            ("scan", "rejected", "unknown_card"),
            ("card", "rejected", "unknown_card"),
            ("card", "applied", None),
            ("door", "applied", None),
        ]
        assert rows[0].payload["text"] == "T0001"
        assert session.scalars(select(Loan)).all() == []


def test_gateway_clock_ahead_is_clamped_to_receipt(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        seed_demo(session)
    _apply(sessions, scan("demo-hut", 1, "T0003", ts=T0 + timedelta(hours=2)), at=T0)
    with sessions() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.borrowed_at == T0
        assert loan.due_at == T0 + timedelta(days=1)  # ladder
