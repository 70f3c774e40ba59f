"""Per-hut order in the database: held-back events, the gap timeout on a movable clock,
gateway resets, enrol taps; and a messy delivery through the real broker and worker."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.ingest import IngestWorker
from server.ledger import AnyEvent, BatchResult, _Ledger, apply_batch, release_overdue
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import event_log
from server.storage.ingest_models import GapKind, HutSequence
from server.storage.models import EventRecord, Hut, Loan
from tests.support.gateway_link import FakeGatewayLink, clear_retained
from tests.support.keys import TestKeys
from toolhut.contract import CardDecision, CardEvent, Outcome, new_id

from .conftest import T0, MovableClock, running_ingest
from .factories import card, door, scan
from .streams import HUTS, RECEIVED_AT, ingest, interleave, mess_up, reset, snapshot, visits
from .test_ingest import _poll

HUT = "demo-hut"
GAP = timedelta(seconds=30)


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as session:
        seed_demo(session, hut_id=HUT)
    return sessions


def _batch(
    sessions: sessionmaker[Session], events: list[AnyEvent], clock: MovableClock
) -> dict[str, Outcome]:
    with sessions.begin() as session:
        hut = session.get(Hut, HUT)
        assert hut is not None
        result: BatchResult = apply_batch(
            session, events, huts={HUT: hut}, received_at=clock(), gap_timeout=GAP
        )
    return {ack.id: ack.outcome for acks in result.acks.values() for ack in acks}


def _mark(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        row = session.get(HutSequence, HUT)
        assert row is not None
        return row.applied_seq, row.held


def _outcomes(sessions: sessionmaker[Session]) -> dict[int, str]:
    with sessions() as session:
        return {r.seq: r.outcome for r in session.scalars(select(EventRecord))}


def test_an_event_behind_a_gap_waits_and_is_applied_once_when_the_gap_fills(
    seeded: sessionmaker[Session], clock: MovableClock
) -> None:
    first, borrow, third = door(HUT, 1), scan(HUT, 2, "T0001"), door(HUT, 3)
    assert _batch(seeded, [first, third], clock) == {
        first.id: Outcome.APPLIED,
        third.id: Outcome.QUEUED,
    }
    assert _mark(seeded) == (1, 1)
    # The gateway may resend the held one before the gap fills: still held, not applied.
    assert _batch(seeded, [third, third], clock) == {third.id: Outcome.QUEUED}
    assert _outcomes(seeded) == {1: "applied", 3: "queued"}

    clock.advance(timedelta(seconds=10))
    acks = _batch(seeded, [borrow], clock)
    # The held one is acked again, now with its outcome: applied.
    assert acks == {borrow.id: Outcome.APPLIED, third.id: Outcome.APPLIED}
    assert _mark(seeded) == (3, 0)
    assert _outcomes(seeded) == {1: "applied", 2: "applied", 3: "applied"}
    assert _batch(seeded, [third, borrow], clock) == {
        third.id: Outcome.DUPLICATE,
        borrow.id: Outcome.DUPLICATE,
    }
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Loan)) == 1
        assert event_log.list_gaps(session, hut_id=HUT) == []


def test_a_scan_held_behind_a_gap_gets_its_feedback_when_the_gap_fills(
    seeded: sessionmaker[Session], clock: MovableClock
) -> None:
    tap, borrow = card(HUT, 1, session="s1"), scan(HUT, 2, "T0001", session="s1")
    with seeded.begin() as session:
        hut = session.get(Hut, HUT)
        assert hut is not None
        first = apply_batch(session, [borrow], huts={HUT: hut}, received_at=clock())
        later = apply_batch(session, [tap], huts={HUT: hut}, received_at=clock())
    assert [(a.id, a.outcome, a.feedback) for a in first.acks[HUT]] == [
        (borrow.id, Outcome.QUEUED, None)
    ]
    acks = {a.id: a for a in later.acks[HUT]}
    assert acks[tap.id].outcome is Outcome.APPLIED
    assert acks[borrow.id].outcome is Outcome.APPLIED
    assert acks[borrow.id].feedback is not None
    assert acks[borrow.id].feedback.text.startswith("已借出")


def test_a_borrow_held_behind_a_gap_takes_effect_once_in_seq_order(
    seeded: sessionmaker[Session], clock: MovableClock
) -> None:
    # Borrow (2) and return (3) of the same item arrive return first, then borrow, and
    # the tap (1) last: the ledger must show borrow-then-return, not a "found" item.
    events = [scan(HUT, 2, "T0002"), scan(HUT, 3, "T0002", card=None), door(HUT, 1)]
    for event in events:
        _batch(seeded, [event], clock)
    with seeded() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.returned_at is not None
    assert set(_outcomes(seeded).values()) == {"applied"}


def test_held_events_are_applied_together_and_one_that_breaks_the_server_fails_alone(
    seeded: sessionmaker[Session], clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three events overtook the first (two server processes); the middle one breaks the
    # server when it is applied. The others are applied once each, in seq order; the
    # broken one is recorded as failed, and the hut goes on.
    first, borrow, broken, other = (
        door(HUT, 1),
        scan(HUT, 2, "T0001"),
        door(HUT, 3),
        scan(HUT, 4, "T0002"),
    )
    assert set(_batch(seeded, [borrow, broken, other], clock).values()) == {Outcome.QUEUED}
    apply = _Ledger.apply

    def breaks_on_one(self: _Ledger, event: AnyEvent, **kwargs: Any) -> Any:
        if event.id == broken.id:
            raise RuntimeError("a bug")
        return apply(self, event, **kwargs)

    monkeypatch.setattr(_Ledger, "apply", breaks_on_one)
    assert _batch(seeded, [first], clock) == {
        first.id: Outcome.APPLIED,
        borrow.id: Outcome.APPLIED,
        broken.id: Outcome.REJECTED,
        other.id: Outcome.APPLIED,
    }
    assert _mark(seeded) == (4, 0)
    with seeded() as session:
        reasons = {r.seq: (r.outcome, r.reason) for r in session.scalars(select(EventRecord))}
        loans = session.scalars(select(Loan)).all()
    assert reasons == {
        1: ("applied", None),
        2: ("applied", None),
        3: ("rejected", "server error: RuntimeError"),
        4: ("applied", None),
    }
    assert len(loans) == 2  # one per borrow: the rolled-back try left nothing behind


def test_the_gap_timeout_applies_held_events_and_reports_what_never_came(
    seeded: sessionmaker[Session], clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="server.ledger")
    late, borrow = door(HUT, 2), scan(HUT, 4, "T0001")
    _batch(seeded, [door(HUT, 1), borrow], clock)
    clock.advance(GAP - timedelta(seconds=1))
    with seeded.begin() as session:
        assert release_overdue(session, now=clock(), gap_timeout=GAP).released == 0
    assert _mark(seeded) == (1, 1)

    clock.advance(timedelta(seconds=1))
    with seeded.begin() as session:
        assert release_overdue(session, now=clock(), gap_timeout=GAP).released == 1
    assert _mark(seeded) == (4, 0)
    with seeded() as session:
        gaps = event_log.list_gaps(session, hut_id=HUT)
        assert [(g.kind, g.first_seq, g.last_seq) for g in gaps] == [(GapKind.MISSING, 2, 3)]
        assert session.scalar(select(func.count()).select_from(Loan)) == 1
    assert any("seq 2..3 never came" in r.getMessage() for r in caplog.records)

    # Seq 2 turns up after all: applied, counted on its gap; the watermark stays.
    assert _batch(seeded, [late], clock) == {late.id: Outcome.APPLIED}
    assert _mark(seeded) == (4, 0)
    with seeded() as session:
        assert event_log.list_gaps(session, hut_id=HUT)[0].late == 1


def test_a_new_batch_also_releases_what_waited_too_long(
    seeded: sessionmaker[Session], clock: MovableClock
) -> None:
    held = door(HUT, 3)
    _batch(seeded, [door(HUT, 1), held], clock)
    clock.advance(GAP)
    nxt = door(HUT, 4)
    assert _batch(seeded, [nxt], clock) == {nxt.id: Outcome.APPLIED, held.id: Outcome.APPLIED}
    assert _mark(seeded) == (4, 0)


def test_a_gateway_that_numbers_from_one_again_is_not_wedged(
    seeded: sessionmaker[Session], clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="server.ledger")
    _batch(seeded, [door(HUT, seq) for seq in range(1, 6)], clock)
    _batch(seeded, [door(HUT, 8)], clock)  # held: 6 and 7 are missing
    # Its outbox wiped, the gateway starts at 1 again (2 arrives before 1).
    again = [door(HUT, 2), door(HUT, 1), door(HUT, 3)]
    acks = _batch(seeded, again, clock)
    assert set(acks.values()) == {Outcome.APPLIED}
    assert _mark(seeded) == (3, 0)
    with seeded() as session:
        gaps = event_log.list_gaps(session, hut_id=HUT)
        assert [(g.kind, g.first_seq, g.last_seq) for g in gaps] == [(GapKind.RESET, 1, 5)]
    assert _outcomes(seeded).get(8) == "applied"  # the held one from before went first
    assert any("started its numbering again" in r.getMessage() for r in caplog.records)


def test_an_enrol_tap_is_applied_and_listed_for_staff(
    seeded: sessionmaker[Session], clock: MovableClock
) -> None:
    tap = CardEvent(
        id=new_id(), hut=HUT, seq=1, ts=T0, card="0A0B0C0D", decision=CardDecision.ENROL
    )
    known = CardEvent(
        id=new_id(), hut=HUT, seq=2, ts=T0, card="04A1B2C3", decision=CardDecision.ENROL
    )
    assert _batch(seeded, [tap, known], clock) == {
        tap.id: Outcome.APPLIED,
        known.id: Outcome.APPLIED,
    }
    with seeded() as session:
        rows = event_log.list_enrolments(session, hut_id=HUT)
        assert sorted((r.card_uid, r.member_id is not None) for r in rows) == [
            ("04A1B2C3", True),
            ("0A0B0C0D", False),
        ]
        assert session.scalars(select(Loan)).all() == []


@pytest.fixture
def worker(
    mqtt_url: str,
    topic_prefix: str,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
) -> Iterator[IngestWorker]:
    reset(sessions)
    settings = ServerSettings(mqtt_url=mqtt_url, topic_prefix=topic_prefix, gap_sweep_s=0.05)
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as worker:
        yield worker
    for hut in HUTS:
        clear_retained(mqtt_url, settings.topics.allowlist(hut))


def _settled(sessions: sessionmaker[Session], total: int) -> bool:
    with sessions() as session:
        rows = session.scalar(select(func.count()).select_from(EventRecord))
        held = session.scalar(
            select(func.count()).select_from(EventRecord).where(EventRecord.outcome == "queued")
        )
        return rows == total and held == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_a_messy_delivery_through_the_broker_gives_the_clean_ledger(
    seed: int,
    sessions: sessionmaker[Session],
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    clock: MovableClock,
) -> None:
    rng = random.Random(seed)
    clock.now = RECEIVED_AT  # as ingest() receives them: no gap ever times out
    plans = {
        "demo-hut": [("04A1B2C3", ["T0001", "T0002"]), ("DEADBEEF", ["T0003"])]
        + [("04A1B2C3", ["T0001", "COND:REPAIR", "T0002", "T0003"])],
        "hut-b": [("04D5E6F7", ["T0010", "T9999"]), ("04ABCDEF", ["T0005", "T0007"])]
        + [("04D5E6F7", ["T0010", "T0005"])],
    }
    streams = [visits(hut, plans[hut]) for hut in HUTS]
    clean = interleave(streams, rng)
    # The expected ledger, straight through the ledger functions, before the worker's run.
    ingest(sessions, [[event] for event in clean])
    expected = snapshot(sessions)
    reset(sessions)

    for event in mess_up(clean, rng):
        gateway.send(event)
    _poll(lambda: _settled(sessions, len(clean)), timeout=30)
    assert snapshot(sessions) == expected
    with sessions() as session:
        assert event_log.list_gaps(session) == []


def test_the_worker_releases_held_events_when_its_clock_passes_the_timeout(
    sessions: sessionmaker[Session],
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    clock: MovableClock,
) -> None:
    gateway.send(door(HUT, 1))
    held = scan(HUT, 3, "T0001")
    gateway.send(held)
    outcomes = {}
    while len(outcomes) < 2:
        outcomes |= {a.seq: a.outcome for a in gateway.next_ack().acks}
    assert outcomes == {1: Outcome.APPLIED, 3: Outcome.QUEUED}
    clock.advance(timedelta(seconds=ServerSettings().gap_timeout_s))
    # The sweep applies it and tells the hut how it went, feedback included.
    late = gateway.next_ack().acks
    assert [(a.seq, a.outcome) for a in late] == [(3, Outcome.APPLIED)]
    assert late[0].feedback is not None and late[0].feedback.text.startswith("已借出")
    _poll(lambda: _settled(sessions, 2))
    with sessions() as session:
        assert [(g.first_seq, g.last_seq) for g in event_log.list_gaps(session)] == [(2, 2)]
        assert session.scalars(select(Loan)).one().item.tag == "T0001"
