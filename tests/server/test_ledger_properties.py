"""Any interleaving of borrow/return scans, renewals, reservations, hold expiry and clock
moves keeps the ledger's invariants, on the real database."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.domain import ItemCondition, ItemStatus
from server.ledger import apply_event
from server.seed import seed_demo
from server.storage.models import (
    Anomaly,
    DoorSession,
    EventRecord,
    Hut,
    Item,
    Loan,
    NotificationRequest,
    Reservation,
    SessionScan,
)
from server.storage.policy_store import load_policy

from .conftest import T0
from .factories import scan

CARDS = ["04A1B2C3", "04D5E6F7"]
TAGS = ["T0001", "T0002", "T0003", "T0010"]  # three power tools (limit 1) and a ladder

operations = st.lists(
    st.one_of(
        st.tuples(st.just("scan"), st.sampled_from(CARDS + [None]), st.sampled_from(TAGS)),
        st.tuples(st.just("renew"), st.sampled_from(TAGS)),
        st.tuples(st.just("reserve"), st.sampled_from(CARDS), st.sampled_from(TAGS)),
        st.tuples(st.just("expire")),
        st.tuples(st.just("clock"), st.integers(min_value=1, max_value=60)),  # hours
    ),
    max_size=25,
)


def _reset(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        seed_demo(session)
        for model in (
            SessionScan,
            Anomaly,
            DoorSession,
            NotificationRequest,
            Reservation,
            Loan,
            EventRecord,
        ):
            session.execute(delete(model))
        session.execute(
            update(Item).values(
                status=ItemStatus.AVAILABLE, condition=ItemCondition.OK, hut_id="demo-hut"
            )
        )


def _check(session: Session) -> None:
    open_loans = session.scalars(
        select(Loan).where(Loan.returned_at.is_(None), Loan.lost_at.is_(None))
    ).all()
    per_item = Counter(loan.item_id for loan in open_loans)
    assert all(n == 1 for n in per_item.values()), "an item on two open loans"
    policy = load_policy(session)
    per_member = Counter((loan.member_id, loan.item.category) for loan in open_loans)
    for (_member, category), n in per_member.items():
        assert n <= policy.rule(category).max_per_member, "over the loan limit"
    for item in session.scalars(select(Item)):
        assert (item.status is ItemStatus.ON_LOAN) == (item.id in per_item), item.tag
        held = session.scalars(
            select(Reservation).where(Reservation.item_id == item.id, Reservation.state == "held")
        ).all()
        assert len(held) <= 1
        assert (item.status is ItemStatus.RESERVED) == bool(held), item.tag


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_any_interleaving_keeps_the_invariants(
    sessions: sessionmaker[Session], ops: list[tuple[object, ...]]
) -> None:
    _reset(sessions)
    now = T0
    for seq, op in enumerate(ops, start=1):
        with sessions.begin() as session:
            if op[0] == "scan":
                _, uid, tag = op
                hut = session.get(Hut, "demo-hut")
                assert hut is not None
                event = scan("demo-hut", seq, str(tag), card=uid, ts=now)  # type: ignore[arg-type]
                apply_event(session, event, hut=hut, received_at=now)
            elif op[0] == "renew":
                loan = session.scalars(
                    select(Loan)
                    .join(Loan.item)
                    .where(Item.tag == op[1], Loan.returned_at.is_(None), Loan.lost_at.is_(None))
                ).one_or_none()
                if loan is not None:
                    try:
                        staff_actions.renew(session, loan_id=loan.id, now=now)
                    except staff_actions.RefusedError:
                        pass
            elif op[0] == "reserve":
                try:
                    staff_actions.reserve(session, tag=str(op[2]), card=str(op[1]), now=now)
                except staff_actions.RefusedError:
                    pass
            elif op[0] == "expire":
                staff_actions.expire_holds(session, now=now)
            else:
                now += timedelta(hours=int(op[1]))  # type: ignore[call-overload]
        with sessions() as session:
            _check(session)
