"""The ingest worker against the real broker: a gateway publishes, the ledger changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from server import access_actions
from server.ingest import IngestWorker
from server.ledger import AnyEvent
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Card, EventRecord, Hut, Loan, RejectedMessage
from tests.support.gateway_link import FakeGatewayLink, clear_retained
from tests.support.keys import TestKeys
from toolhut.contract import CardDecision, CardState, DenialReason, Outcome, Topics, stored_event
from toolhut.hut_keys import HutKeyring

from .conftest import MovableClock, running_ingest
from .factories import card, door, scan

HUT = "demo-hut"
TIMEOUT = 10.0


@pytest.fixture
def worker(
    mqtt_url: str,
    topic_prefix: str,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
) -> Iterator[IngestWorker]:
    with sessions.begin() as session:
        seed_demo(session, hut_id=HUT)
    settings = ServerSettings(mqtt_url=mqtt_url, topic_prefix=topic_prefix)
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as worker:
        yield worker
    clear_retained(mqtt_url, settings.topics.allowlist(HUT))


def _poll(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_scan_is_applied_acked_and_replay_is_duplicate(
    worker: IngestWorker, gateway: FakeGatewayLink, sessions: sessionmaker[Session]
) -> None:
    borrow = scan(HUT, 1, "https://hut.example.org/i/T0001")
    gateway.send(borrow)
    ack = gateway.next_ack()
    assert ack.hut == HUT
    assert [(a.id, a.seq, a.outcome) for a in ack.acks] == [(borrow.id, 1, Outcome.APPLIED)]
    assert ack.acks[0].feedback is not None
    assert ack.acks[0].feedback.text == "已借出 电钻 还期11-30"
    with sessions() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.item.tag == "T0001" and loan.member.name == "张阿姨"

    gateway.send(borrow)  # the gateway's outbox resends: the ledger must not move
    again = gateway.next_ack()
    assert [(a.id, a.outcome) for a in again.acks] == [(borrow.id, Outcome.DUPLICATE)]
    assert _count(sessions, Loan) == 1
    assert _count(sessions, EventRecord) == 1


def test_taps_denied_for_the_hours_or_another_hut_are_kept_with_their_reason(
    worker: IngestWorker, gateway: FakeGatewayLink, sessions: sessionmaker[Session]
) -> None:
    """The gateway decided (offline too); the server records the denial, opens nothing, and
    takes the new reasons as it takes suspended and lost: never a dead letter."""
    taps = [
        card(HUT, seq, uid).model_copy(update={"decision": CardDecision.DENIED, "reason": reason})
        for seq, uid, reason in [
            (1, "04A1B2C3", DenialReason.CLOSED),
            (2, "04D5E6F7", DenialReason.ELSEWHERE),
        ]
    ]
    for tap in taps:
        gateway.send(tap)
    acked: dict[str, Outcome] = {}
    while len(acked) < len(taps):
        acked.update((a.id, a.outcome) for a in gateway.next_ack().acks)
    assert acked == {tap.id: Outcome.APPLIED for tap in taps}
    assert _count(sessions, RejectedMessage) == 0
    with sessions() as session:
        stored = session.scalars(select(EventRecord).order_by(EventRecord.seq)).all()
        assert [stored_event(r.payload) for r in stored] == taps
        assert [r.payload["reason"] for r in stored] == ["closed", "elsewhere"]


def test_a_burst_is_applied_in_order_and_fully_acked(
    worker: IngestWorker, gateway: FakeGatewayLink, sessions: sessionmaker[Session]
) -> None:
    events: list[AnyEvent] = [door(HUT, seq) for seq in range(1, 61)]
    # Borrow then return the same item: order decides the result.
    events += [scan(HUT, 61, "T0002"), scan(HUT, 62, "T0002", card=None)]
    for event in events:
        gateway.send(event)
    acked: dict[str, Outcome] = {}
    while len(acked) < len(events):
        for item in gateway.next_ack().acks:
            acked[item.id] = item.outcome
    assert set(acked) == {event.id for event in events}
    assert set(acked.values()) == {Outcome.APPLIED}
    with sessions() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.returned_at is not None


def test_bad_messages_are_dead_lettered_and_the_worker_carries_on(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="server.ingest")
    topics = gateway.topics
    gateway.publish(topics.events(HUT), b"{not json")
    gateway.publish(topics.events(HUT), b'{"v":1,"type":"scan","hut":"demo-hut"}')
    gateway.send(scan("ghost-hut", 1, "T0001"))  # a hut the server does not know
    gateway.send(scan("other-hut", 1, "T0001"), topic_hut=HUT)  # payload hut != topic hut
    # What anyone on the broker can publish: a plain event, one sealed with another
    # secret's key, and a good one with a byte changed. None is applied, none acked.
    forged = scan(HUT, 1, "T0003")
    gateway.publish(topics.events(HUT), forged.to_bytes())
    gateway.publish(topics.events(HUT), forged.sealed(HutKeyring(b"x" * 32)(HUT)))
    gateway.publish(
        topics.events(HUT), forged.sealed(gateway.keyring(HUT)).replace(b"T0003", b"T0002")
    )
    good = scan(HUT, 1, "T0004")
    gateway.send(good)

    ack = gateway.next_ack()
    assert [(a.id, a.outcome) for a in ack.acks] == [(good.id, Outcome.APPLIED)]
    _poll(lambda: _count(sessions, RejectedMessage) == 7)
    with sessions() as session:
        letters = session.scalars(select(RejectedMessage).order_by(RejectedMessage.id)).all()
        reasons = " | ".join(letter.reason for letter in letters)
        assert letters[0].payload == b"{not json"
        assert {letter.topic for letter in letters} == {
            topics.events(HUT),
            topics.events("ghost-hut"),
        }
        assert [loan.item.tag for loan in session.scalars(select(Loan))] == ["T0004"]
    assert "unauthenticated events message: no MAC" in reasons
    assert "unknown hut 'ghost-hut'" in reasons
    assert "event names hut 'other-hut', sealed for 'demo-hut'" in reasons
    assert reasons.count("MAC does not match hut 'demo-hut'") == 2
    assert reasons.count("no MAC") == 3  # the plain one and the two garbage payloads
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("rejected message" in w for w in warnings) == 7
    assert gateway.acks.empty()  # no ack for any of them
    assert _count(sessions, EventRecord) == 1


def test_allowlists_are_retained_and_versions_grow(
    worker: IngestWorker,
    sessions: sessionmaker[Session],
    mqtt_url: str,
    topic_prefix: str,
    keys: TestKeys,
) -> None:
    key = keys.key(HUT)  # the hut's key, as its gateway holds it
    first = FakeGatewayLink(mqtt_url, Topics(topic_prefix), keys.keyring)  # after the publish
    try:
        allowlist = first.allowlists.get(timeout=TIMEOUT)
    finally:
        first.close()
    assert allowlist.hut == HUT
    assert allowlist.admits("04A1B2C3", key=key) and allowlist.admits("04D5E6F7", key=key)
    assert "04A1B2C3" not in allowlist.to_bytes().decode()

    later = FakeGatewayLink(mqtt_url, Topics(topic_prefix), keys.keyring)
    try:
        assert later.allowlists.get(timeout=TIMEOUT).version == allowlist.version
        # A commit that suspends a member is enough: nobody has to ask for the new list.
        with sessions.begin() as session:
            card = session.scalars(select(Card).where(Card.uid == "04D5E6F7")).one()
            access_actions.suspend_member(session, member_id=card.member_id)
        # Some brokers (amqtt) hand a new subscriber its retained copy more than once.
        newer = later.allowlists.get(timeout=TIMEOUT)
        while newer.version == allowlist.version:
            newer = later.allowlists.get(timeout=TIMEOUT)
    finally:
        later.close()
    assert newer.version > allowlist.version
    assert newer.admits("04A1B2C3", key=key) and not newer.admits("04D5E6F7", key=key)
    assert newer.state_of("04D5E6F7", key=key) is CardState.SUSPENDED


def test_an_event_that_breaks_the_server_is_dead_lettered_alone(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with sessions.begin() as session:
        session.add(Hut(id="bad-tz", name="坏时区", timezone="Mars/Olympus_Mons"))
    broken = scan("bad-tz", 1, "T0001")
    good = [scan(HUT, 1, "T0005"), scan(HUT, 2, "T0006")]
    for event in (good[0], broken, good[1]):
        gateway.send(event)
    acked: set[str] = set()
    while len(acked) < 2:
        acked |= {a.id for a in gateway.next_ack().acks if a.outcome is Outcome.APPLIED}
    assert acked == {event.id for event in good}
    _poll(lambda: _count(sessions, RejectedMessage) == 1)
    with sessions() as session:
        letter = session.scalars(select(RejectedMessage)).one()
        assert letter.reason.startswith("server error")
        assert letter.topic == gateway.topics.events("bad-tz")
    assert any(
        r.levelno == logging.ERROR and "dead-lettered" in r.getMessage() for r in caplog.records
    )


def test_the_huts_ack_goes_out_before_the_brokers_acks(
    worker: IngestWorker, gateway: FakeGatewayLink
) -> None:
    """Both after the commit; the AckBatch, which a resident waits for, first."""
    calls: list[str] = []
    client = worker._client
    publish, broker_ack = client.publish, client.ack
    ack_topic = worker._topics.ack(HUT)

    def spy_publish(topic: str, *args: object, **kwargs: object) -> object:
        if topic == ack_topic:
            calls.append("ack batch")
        return publish(topic, *args, **kwargs)

    def spy_ack(mid: int, qos: int) -> object:
        calls.append("broker ack")
        return broker_ack(mid, qos)

    client.publish, client.ack = spy_publish, spy_ack
    try:
        borrow = scan(HUT, 1, "https://hut.example.org/i/T0001")
        gateway.send(borrow)
        assert [a.id for a in gateway.next_ack().acks] == [borrow.id]
        _poll(lambda: "broker ack" in calls)
    finally:
        client.publish, client.ack = publish, broker_ack
    assert calls == ["ack batch", "broker ack"]


def test_a_connection_the_database_closed_under_the_worker_costs_no_event(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker keeps its connection between batches (server.storage.kept_connection):
    one PostgreSQL closed meanwhile (a restart, an administrator) is replaced at the next
    batch, which is applied and acked as if nothing had happened."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a database server closing a connection: PostgreSQL's (SQLite has none)")
    backends: list[int] = []

    def claims(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("INSERT INTO events"):  # the worker's claim of its events
            backends.append(conn.connection.driver_connection.info.backend_pid)

    sa_event.listen(engine, "before_cursor_execute", claims)
    try:
        gateway.send(scan(HUT, 1, "T0001"))
        assert [a.outcome for a in gateway.next_ack().acks] == [Outcome.APPLIED]
        with engine.connect() as admin:
            assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[-1]})
        with caplog.at_level(logging.WARNING):
            gateway.send(scan(HUT, 2, "T0001"))  # the return
            assert [a.outcome for a in gateway.next_ack().acks] == [Outcome.APPLIED]
    finally:
        sa_event.remove(engine, "before_cursor_execute", claims)
    assert backends[-1] != backends[0]
    assert "kept database connection was closed" in caplog.text
    assert "database unavailable" not in caplog.text
