"""The server's Prometheus metrics (server.metrics): the ingest worker's counters move with
the events a gateway sends (the real broker, the real database), the reminder counters
with each channel's sends; /metrics is for signed-in staff and parses with Prometheus's
own text parser. Each test has a registry of its own; the assertions are deltas anyway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.ingest import IngestWorker
from server.metrics import LAG_BUCKETS, DeadLetterReason, ServerMetrics, dead_letter_reason
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import RejectedMessage
from tests.support.gateway_link import FakeGatewayLink, clear_retained
from tests.support.keys import TestKeys
from tests.support.processes import poll_until
from tests.support.staff_auth import staff_headers
from toolhut.contract import ContractError, Outcome, TopicKind, Topics, parse_event

from .conftest import MovableClock, running_ingest
from .factories import card, door, scan
from .receivers import WebhookReceiver, webhook_receiver
from .test_reminders import _lend, _service, _settings, local

HUT = "demo-hut"
LAG = timedelta(seconds=3)  # the events' timestamps, behind the worker's clock


def value(metrics: ServerMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def outcome(metrics: ServerMetrics, which: Outcome) -> float:
    return value(metrics, "toolhut_ingest_events_total", outcome=which.value)


@pytest.fixture
def metrics(sessions: sessionmaker[Session]) -> ServerMetrics:
    return ServerMetrics(sessions=sessions)


@pytest.fixture
def worker(
    mqtt_url: str,
    topic_prefix: str,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
    metrics: ServerMetrics,
) -> Iterator[IngestWorker]:
    with sessions.begin() as session:
        seed_demo(session, hut_id=HUT)
    settings = ServerSettings(mqtt_url=mqtt_url, topic_prefix=topic_prefix)
    with running_ingest(
        settings, sessions=sessions, keys=keys, clock=clock, metrics=metrics
    ) as worker:
        yield worker
    clear_retained(mqtt_url, settings.topics.allowlist(HUT))


def test_dead_letters_are_counted_by_a_fixed_class_never_by_their_text(keys: TestKeys) -> None:
    key = keys.key(HUT)
    body = door(HUT, 1).to_bytes()
    topics = Topics("t")
    refused = {
        DeadLetterReason.SEAL: [
            lambda: parse_event(body, key=key),  # no MAC
            lambda: parse_event(keys.key("other").seal(TopicKind.EVENTS, body), key=key),
            lambda: parse_event(
                keys.key("other").seal(TopicKind.EVENTS, body), key=keys.key("other")
            ),
        ],
        DeadLetterReason.TOPIC: [
            lambda: topics.parse("elsewhere/v1/x/events"),
            lambda: topics.parse("t/v1/Bad Hut/events"),
        ],
        DeadLetterReason.PAYLOAD: [
            lambda: parse_event(key.seal(TopicKind.EVENTS, b'{"v": 1}'), key=key),
        ],
    }
    for reason, attempts in refused.items():
        for attempt in attempts:
            with pytest.raises(ContractError) as exc:
                attempt()
            assert dead_letter_reason(exc.value) is reason, str(exc.value)
    assert {r.value for r in DeadLetterReason} == {
        "seal", "topic", "payload", "unknown_hut", "server_error",
    }  # fmt: skip


def test_ingest_counters_move_with_the_events_sent(
    worker: IngestWorker,
    gateway: FakeGatewayLink,
    metrics: ServerMetrics,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    topic_prefix: str,
) -> None:
    gateway.allowlists.get(timeout=10)  # the list the worker publishes on connecting
    poll_until(lambda: value(metrics, "toolhut_allowlists_published_total") >= 1, what="count")
    before = {o: outcome(metrics, o) for o in Outcome}
    taken_before = value(metrics, "toolhut_ingest_messages_total")
    acks_before = value(metrics, "toolhut_ingest_ack_messages_total")

    at = clock() - LAG
    events = [
        card(HUT, 1, ts=at),
        door(HUT, 2, ts=at),
        scan(HUT, 3, "T0001", ts=at),  # borrowed
        scan(HUT, 4, "T9999", ts=at),  # no such item: rejected by the rules
    ]
    late, early = door(HUT, 6, ts=at), door(HUT, 5, ts=at)  # 6 waits for 5: queued
    expected = {e.id for e in events} | {late.id, early.id}
    batches = 0
    acked: dict[str, list[Outcome]] = {}

    def drain(until: int) -> None:
        nonlocal batches
        while sum(len(o) for o in acked.values()) < until:
            ack = gateway.next_ack()
            batches += 1
            for item in ack.acks:
                acked.setdefault(item.id, []).append(item.outcome)

    for event in events:
        gateway.send(event)
    drain(4)
    gateway.send(events[0])  # the outbox resends one: duplicate
    drain(5)
    gateway.send(late)
    drain(6)
    gateway.send(early)
    drain(8)  # 5 applied, and 6 again, applied now
    assert set(acked) == expected
    assert acked[late.id] == [Outcome.QUEUED, Outcome.APPLIED]

    # Three strangers: a seal that does not match, a hut the database lacks, a topic
    # whose hut id is no hut id.
    gateway.publish(
        gateway.topics.events(HUT),
        gateway.keyring("other").seal(TopicKind.EVENTS, door(HUT, 7).to_bytes()),
    )
    gateway.send(door("nowhere", 1))
    gateway.publish(f"{topic_prefix}/v1/NOT-A-HUT/events", b"{}")

    def dead_letters() -> int:
        with sessions() as db:
            return int(db.scalar(select(func.count()).select_from(RejectedMessage)) or 0)

    poll_until(lambda: dead_letters() == 3, what="three dead letters")
    poll_until(
        lambda: value(metrics, "toolhut_ingest_messages_total") - taken_before == 10,
        what="ten messages counted",
    )
    poll_until(
        lambda: value(metrics, "toolhut_ingest_ack_messages_total") - acks_before == batches,
        what="every AckBatch counted",
    )
    delta = {o: outcome(metrics, o) - before[o] for o in Outcome}
    assert delta == {
        Outcome.APPLIED: 5, Outcome.REJECTED: 1, Outcome.DUPLICATE: 1, Outcome.QUEUED: 1,
    }  # fmt: skip
    for reason, count in {"seal": 1, "unknown_hut": 1, "topic": 1, "payload": 0}.items():
        assert value(metrics, "toolhut_ingest_dead_letters_total", reason=reason) == count

    # The lag of the six events stored (the duplicate left out), 3 s each: by the worker's
    # clock, so exact.
    lag = "toolhut_ingest_lag_seconds"
    assert value(metrics, f"{lag}_count", hut=HUT) == 6
    assert value(metrics, f"{lag}_sum", hut=HUT) == pytest.approx(6 * LAG.total_seconds())
    below, above = (b for b in LAG_BUCKETS if b < 3), (b for b in LAG_BUCKETS if b >= 3)
    assert all(value(metrics, f"{lag}_bucket", hut=HUT, le=str(b)) == 0 for b in below)
    assert all(value(metrics, f"{lag}_bucket", hut=HUT, le=str(b)) == 6 for b in above)
    assert value(metrics, f"{lag}_count", hut="nowhere") == 0  # not a hut: no series


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


def test_reminder_counters_per_channel(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock
) -> None:
    metrics = ServerMetrics()
    _lend(sessions, ["T0001"], due_at=local(28, 18))
    service = _service(sessions, _settings(receiver), clock, on_report=metrics.reminders)
    metrics.channels(service.channels)
    assert value(metrics, "toolhut_reminder_deliveries_sent_total", channel="webhook") == 0
    receiver.fail_next = 1
    service.sweep_once(local(27, 18))  # the webhook fails once, the hut display goes
    planned = "toolhut_reminder_deliveries_planned_total"
    sent, failed = (
        "toolhut_reminder_deliveries_sent_total",
        "toolhut_reminder_deliveries_failed_total",
    )
    assert {c: value(metrics, planned, channel=c) for c in ("webhook", "display")} == {
        "webhook": 1, "display": 1,
    }  # fmt: skip
    assert value(metrics, sent, channel="display") == 1
    assert value(metrics, failed, channel="webhook") == 1
    service.sweep_once(local(27, 19))  # the retry is due: it goes
    assert value(metrics, sent, channel="webhook") == 1
    assert value(metrics, planned, channel="webhook") == 1  # planned once, sent once


def test_metrics_are_for_signed_in_staff_and_parse(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
    app = create_app(ServerSettings(), clock=clock, engine=engine)
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        answer = client.get("/metrics", headers=staff_headers(sessions, Role.VIEWER))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    for name in (
        "toolhut_ingest_messages", "toolhut_ingest_events", "toolhut_ingest_dead_letters",
        "toolhut_ingest_lag_seconds", "toolhut_allowlists_published",
        "toolhut_reminder_deliveries_sent", "toolhut_huts_online", "toolhut_alarms_open",
        "process_resident_memory_bytes",
    ):  # fmt: skip
        assert name in families, name
    [huts] = families["toolhut_huts"].samples
    assert huts.value == 1
    outcomes = {s.labels["outcome"] for s in families["toolhut_ingest_events"].samples}
    assert outcomes == {o.value for o in Outcome}  # every outcome from 0, before any event
