"""The allowlists are built and published on their own thread: a round in progress holds
no event's ack behind it, and a process that connects publishes only the lists that are
not current, and a gateway's status that reports an older list (or none) gets it again."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server import allowlists
from server.allowlist_worker import BEHIND_GRACE, MAX_RESENDS
from server.allowlists import CardAccessList
from server.ingest import IngestWorker
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Hut
from tests.support.gateway_link import FakeGatewayLink
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from toolhut.contract import Outcome

from .conftest import MovableClock, running_ingest
from .factories import door

HUT = "demo-hut"
TIMEOUT = 10.0


def test_a_list_being_built_does_not_hold_back_an_events_ack(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
    gateway: FakeGatewayLink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
    building, release = threading.Event(), threading.Event()
    read_cards = allowlists.card_access_list

    def held_build(db: Session) -> CardAccessList:
        building.set()
        release.wait(3 * TIMEOUT)  # released below, once the event's ack came
        return read_cards(db)

    monkeypatch.setattr(allowlists, "card_access_list", held_build)
    try:
        with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as worker:
            assert building.wait(TIMEOUT), "the connect did not start a round of lists"
            gateway.send(door(HUT, 1))
            ack = gateway.next_ack()  # while the round is still held
            assert [a.outcome for a in ack.acks] == [Outcome.APPLIED]
            assert not release.is_set() and worker.allowlists.busy.is_set()
            assert gateway.allowlists.empty()
            release.set()
            assert gateway.allowlists.get(timeout=TIMEOUT).hut == HUT
    finally:
        release.set()


def test_a_connecting_process_publishes_only_the_lists_that_are_not_current(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
    gateway: FakeGatewayLink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="server")
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock):
        first = gateway.allowlists.get(timeout=TIMEOUT)
    caplog.clear()
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as second:
        # Logged after the connect asked for its check: the marker below comes after it.
        poll_until(
            lambda: any("ingest worker connected" in m for m in caplog.messages),
            timeout=TIMEOUT, what="the second worker's connect",
        )  # fmt: skip
        # The retained list is current: the second process's connect publishes nothing.
        assert _idle(second)
        assert _only_retained(gateway, first.version)
        assert not any("published allowlist" in m for m in caplog.messages)
        # The hut's gateway says it has no list (its data was wiped; or the broker restarted
        # without persistence, and the gateway with it). Just published: another process
        # that heard the same status may have sent it, so not yet.
        second.allowlists.reported({HUT: None})
        assert _idle(second)
        assert _version(sessions) == first.version  # none built (the row has each one's)
        clock.advance(BEHIND_GRACE + timedelta(seconds=1))
        second.allowlists.reported({HUT: None})
        again = gateway.allowlists.get(timeout=TIMEOUT)
        assert again.version > first.version
        # Its next status says it has that list: nothing more goes out.
        clock.advance(BEHIND_GRACE + timedelta(seconds=1))
        second.allowlists.reported({HUT: again.version})
        assert _idle(second)
        assert _version(sessions) == again.version


def test_a_gateway_that_keeps_refusing_its_list_is_sent_it_a_few_times_then_named(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
    gateway: FakeGatewayLink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as worker:
        gateway.allowlists.get(timeout=TIMEOUT)
        versions = []
        for _ in range(MAX_RESENDS + 2):  # its status says "none" each time
            clock.advance(BEHIND_GRACE + timedelta(seconds=1))
            worker.allowlists.reported({HUT: None})
            assert _idle(worker)
            versions.append(_version(sessions))
        assert len(set(versions)) == MAX_RESENDS  # a new list each of the first times only
        warned = [m for m in caplog.messages if f"hut {HUT} keeps deciding" in m]
        assert len(warned) == 1
        # Once it reports another version, it may be sent a newer list again.
        clock.advance(BEHIND_GRACE + timedelta(seconds=1))
        worker.allowlists.reported({HUT: versions[0]})
        assert _idle(worker)
        assert _version(sessions) > versions[-1]


def _version(sessions: sessionmaker[Session]) -> int:
    """The hut's allowlist version: each list built and published has its own."""
    with sessions() as db:
        hut = db.get(Hut, HUT)
        assert hut is not None
        return hut.allowlist_version


def _idle(worker: IngestWorker) -> bool:
    """Every request put so far handled (a marker request's round done)."""
    done = threading.Event()
    worker.allowlists.after_round(done.set)
    return done.wait(TIMEOUT)


def _only_retained(gateway: FakeGatewayLink, version: int) -> bool:
    """What the gateway heard since subscribing is the retained list it had (some
    brokers hand it more than once), nothing newer."""
    versions = set()
    while not gateway.allowlists.empty():
        versions.add(gateway.allowlists.get_nowait().version)
    return versions <= {version}
