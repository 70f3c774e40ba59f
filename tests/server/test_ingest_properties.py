"""Duplicated, reordered and gapped event streams give the same ledger as the clean
stream, through the ingest path (apply_batch, one transaction per batch) on the real
database. The broker variant is in test_ingest_order.py."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.storage.ingest_models import HutSequence, SequenceGap
from server.storage.models import EventRecord

from .streams import (
    CARDS,
    HUTS,
    TAGS,
    batches,
    ingest,
    interleave,
    mess_up,
    reset,
    snapshot,
    visits,
)


def visit_plans(hut: str) -> st.SearchStrategy[list[tuple[str, list[str]]]]:
    card = st.sampled_from(CARDS[hut])
    return st.lists(
        st.tuples(card, st.lists(st.sampled_from(TAGS[hut]), max_size=4)), min_size=1, max_size=4
    )


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.tuples(*(visit_plans(hut) for hut in HUTS)), seed=st.integers(0, 2**32 - 1))
def test_a_messy_delivery_gives_the_ledger_of_the_clean_stream(
    sessions: sessionmaker[Session],
    plans: tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]],
    seed: int,
) -> None:
    rng = random.Random(seed)
    streams = [visits(hut, plan) for hut, plan in zip(HUTS, plans, strict=True)]
    clean = interleave(streams, rng)

    reset(sessions)
    ingest(sessions, [[event] for event in clean])
    expected = snapshot(sessions)

    reset(sessions)
    ingest(sessions, batches(mess_up(clean, rng), rng))
    assert snapshot(sessions) == expected
    with sessions() as session:
        total = len(clean)
        assert session.scalar(select(func.count()).select_from(EventRecord)) == total
        marks = {row.hut_id: row for row in session.scalars(select(HutSequence))}
        for hut, stream in zip(HUTS, streams, strict=True):
            assert marks[hut].applied_seq == len(stream) and marks[hut].held == 0
        assert session.scalars(select(SequenceGap)).all() == []
