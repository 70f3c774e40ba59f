"""The loader's preload (apply_batch: a batch's cards, items, loans, reservations and door
sessions read at once) gives the ledger of one event at a time (apply_event, a batch of
one: every lookup a query on a miss), on the real database: waiting lists, holds, display
lines and the phone sign-in card's codes included."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.domain.labels import SIGN_IN_CARD
from server.ledger import AnyEvent, apply_event
from server.storage import reminder_queries
from server.storage.models import Card, Hut, Item, Member, NotificationRequest, Reservation
from server.storage.reminder_models import DisplayMessage
from server.storage.resident_models import ResidentCode

from .conftest import T0
from .streams import CARDS, HUTS, RECEIVED_AT, TAGS, batches, ingest, reset, snapshot, visits

SETUP_HUT = "hut-setup"
HOUR = timedelta(hours=1)


def _seed_waiting(sessions: sessionmaker[Session]) -> None:
    """Someone waits for T0002 and T0010; a reminder line waits for one card's member.

    A waiting list forms only behind an item that is out: the two are borrowed first, at a
    third hut (its own sequence: the huts' streams still start at 1), then reserved by staff."""
    zhang, li = "04A1B2C3", "04D5E6F7"
    with sessions.begin() as db:
        db.add(Hut(id=SETUP_HUT, name="三号屋"))
    lend = visits(SETUP_HUT, [(zhang, ["T0002"]), (li, ["T0010"])], starts=[T0 - HOUR] * 2)
    for event in lend:
        _apply(sessions, event)
    with sessions.begin() as db:
        for tag, card in (("T0002", li), ("T0010", zhang)):
            staff_actions.reserve(db, tag=tag, card=card, now=T0 - HOUR / 2)
        member_id = db.scalars(select(Card.member_id).where(Card.uid == zhang)).one()
        reminder_queries.add_display_message(db, member_id=member_id, text="请归还电钻", now=T0)


def _apply(sessions: sessionmaker[Session], event: AnyEvent) -> None:
    with sessions.begin() as db:
        hut = db.get(Hut, event.hut)
        assert hut is not None
        apply_event(db, event, hut=hut, received_at=RECEIVED_AT)


def _full_snapshot(sessions: sessionmaker[Session]) -> dict[str, Any]:
    state = snapshot(sessions)
    with sessions() as db:
        state["reservations"] = [
            (r.item.tag, r.member.name, r.state, r.hold_until, r.closed_at)
            for r in db.scalars(select(Reservation))
        ]
        state["notices"] = [
            (n.kind, _name(db, n.member_id), _tag(db, n.item_id), n.text)
            for n in db.scalars(select(NotificationRequest))
        ]
        state["display"] = [
            (_name(db, m.member_id), m.text, m.shown_at) for m in db.scalars(select(DisplayMessage))
        ]
        state["codes"] = [  # the codes are drawn at random: who, where and when, not which
            (_name(db, c.member_id), c.via, c.hut_id, c.created_at, c.expires_at)
            for c in db.scalars(select(ResidentCode))
        ]
    for name in ("reservations", "notices", "display", "codes"):
        state[name].sort(key=repr)
    return state


def _name(db: Session, member_id: int | None) -> str | None:
    if member_id is None:
        return None
    member = db.get(Member, member_id)
    assert member is not None
    return member.name


def _tag(db: Session, item_id: int | None) -> str | None:
    if item_id is None:
        return None
    item = db.get(Item, item_id)
    assert item is not None
    return item.tag


def visit_plans(hut: str) -> st.SearchStrategy[list[tuple[str, list[str]]]]:
    card = st.sampled_from(CARDS[hut])
    return st.lists(
        st.tuples(card, st.lists(st.sampled_from((*TAGS[hut], SIGN_IN_CARD)), max_size=4)),
        min_size=1,
        max_size=4,
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
        _apply(sessions, event)
    expected = _full_snapshot(sessions)

    reset(sessions)
    _seed_waiting(sessions)
    ingest(sessions, batches(clean, rng, largest=40))
    assert _full_snapshot(sessions) == expected
