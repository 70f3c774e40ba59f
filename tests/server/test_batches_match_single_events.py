"""The loader's preload (apply_batch: a batch's cards, items, loans, reservations and door
sessions read at once) gives the ledger of one event at a time (apply_event, a batch of
one: every lookup a query on a miss), on the real database: waiting lists, holds and
display lines included."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.ledger import apply_event
from server.storage import reminder_queries, reservations
from server.storage.models import Card, Hut, Item, Member, NotificationRequest, Reservation
from server.storage.reminder_models import DisplayMessage

from .conftest import T0
from .streams import CARDS, HUTS, RECEIVED_AT, TAGS, batches, ingest, reset, snapshot, visits


def _seed_waiting(sessions: sessionmaker[Session]) -> None:
    """Someone waits for T0002 and T0010; a reminder line waits for one card's member."""
    with sessions.begin() as session:
        card = session.scalars(select(Card).where(Card.uid == "04A1B2C3")).one()
        other = session.scalars(select(Card).where(Card.uid == "04D5E6F7")).one()
        for tag, member_id in (("T0002", other.member_id), ("T0010", card.member_id)):
            item = session.scalars(select(Item).where(Item.tag == tag)).one()
            reservations.add(session, item=item, member_id=member_id, now=T0)
        reminder_queries.add_display_message(
            session, member_id=card.member_id, text="请归还电钻", now=T0
        )


def _full_snapshot(sessions: sessionmaker[Session]) -> dict[str, Any]:
    state = snapshot(sessions)
    with sessions() as session:
        state["reservations"] = [
            (r.item.tag, r.member.name, r.state, r.hold_until, r.closed_at)
            for r in session.scalars(select(Reservation))
        ]
        state["notices"] = [
            (n.kind, _name(session, n.member_id), _tag(session, n.item_id), n.text)
            for n in session.scalars(select(NotificationRequest))
        ]
        state["display"] = [
            (_name(session, m.member_id), m.text, m.shown_at)
            for m in session.scalars(select(DisplayMessage))
        ]
    for name in ("reservations", "notices", "display"):
        state[name].sort(key=repr)
    return state


def _name(session: Session, member_id: int | None) -> str | None:
    if member_id is None:
        return None
    member = session.get(Member, member_id)
    assert member is not None
    return member.name


def _tag(session: Session, item_id: int | None) -> str | None:
    if item_id is None:
        return None
    item = session.get(Item, item_id)
    assert item is not None
    return item.tag


def visit_plans(hut: str) -> st.SearchStrategy[list[tuple[str, list[str]]]]:
    card = st.sampled_from(CARDS[hut])
    return st.lists(
        st.tuples(card, st.lists(st.sampled_from(TAGS[hut]), max_size=4)), min_size=1, max_size=4
    )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.tuples(*(visit_plans(hut) for hut in HUTS)), seed=st.integers(0, 2**32 - 1))
def test_batches_give_the_ledger_of_one_event_at_a_time(
    sessions: sessionmaker[Session],
    plans: tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]],
    seed: int,
) -> None:
    rng = random.Random(seed)
    # One hut after the other: the uncached path applies in this order too.
    clean = [e for hut, plan in zip(HUTS, plans, strict=True) for e in visits(hut, plan)]

    reset(sessions)
    _seed_waiting(sessions)
    for event in clean:
        with sessions.begin() as session:
            hut = session.get(Hut, event.hut)
            assert hut is not None
            apply_event(session, event, hut=hut, received_at=RECEIVED_AT)
    expected = _full_snapshot(sessions)

    reset(sessions)
    _seed_waiting(sessions)
    ingest(sessions, batches(clean, rng, largest=40))
    assert _full_snapshot(sessions) == expected
