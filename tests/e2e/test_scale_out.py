"""Scale-out: two ``toolhut server`` processes on one PostgreSQL share the huts' events
through an MQTT shared subscription ($share/<group>/...), and both sweep reminders.

Five huts send a few hundred events (visits: card tap, door open, borrow and return scans,
door close), with gateway resends of the same event ids, as real gateways would: QoS 1
on the events topics, through the real broker. Every event is acked, stored and applied
once; the loans are what the visits did; each (loan, stage) reminder goes out once, though
both processes sweep the same overdue loans while the events are still coming in.

The processes run on the real clock: the visits that leave loans overdue happened days ago,
as a hut that was offline reports them (a loan dates from the gateway's clock)."""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server.domain import Category
from server.storage import make_engine
from server.storage.ingest_models import HutSequence, SequenceGap
from server.storage.models import Card, EventRecord, Item, Loan
from server.storage.reminder_models import (
    DeliveryStatus,
    ReminderAttempt,
    ReminderClaim,
    ReminderDelivery,
    ReminderMessage,
)
from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.server.streams import interleave, visits
from tests.support.gateway_link import FakeGatewayLink, clear_retained
from tests.support.keys import TestKeys
from tests.support.ledger_setup import furnish, name_of, stop_line
from tests.support.processes import ToolhutProcess, poll_until
from tests.support.services import Broker, fresh_postgres_schema
from toolhut.contract import AnyEvent, Outcome, ScanEvent, Topics
from toolhut_cli.embedded_broker import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

HUTS = tuple(f"scale-{n}" for n in range(5))
SERVERS = ("a", "b")
GROUP = "toolhut-servers"
MEMBERS = 4  # per hut: the huts share no member and no item, so only per-hut order matters
TIMEOUT = 40.0

# Old visits whose loans stay open (hand tools: 3 days), by days ago, and the reminder
# stages each such loan has reached now: far from any stage's boundary.
OVERDUE_STAGES = {
    12.0: ("overdue_3d", "escalation_7d"),  # due 9 days ago
    8.0: ("overdue_3d",),  # due 5 days ago
    4.5: ("overdue_1d",),  # due a day and a half ago
}


@dataclass(frozen=True)
class HutPlan:
    hut: str
    cards: tuple[str, ...]
    items: dict[str, Category]  # tag -> category
    events: list[AnyEvent]
    stages: dict[str, tuple[str, ...]]  # tag of each loan left overdue -> stages reached


def plan_hut(n: int, now: datetime) -> HutPlan:
    hut = HUTS[n]
    cards = tuple(f"5CA1{n:02X}{m:02X}" for m in range(MEMBERS))
    hand = [f"H{n}{k:02d}" for k in range(1, 9)]
    fit = [f"F{n}{k:02d}" for k in range(1, 5)]
    m0, m1, m2, m3 = cards
    # Days ago: borrowed and kept (the hut was offline; these reach the server late).
    old: list[tuple[float, str, list[str]]] = [
        (12.0, m0, hand[0:2]),
        (8.0, m1, hand[2:3]),
        (4.5, m2, hand[3:5]),
        (4.5, m0, hand[5:6]),
    ]
    # Hours ago: borrowed and brought back, some kept, a neighbour returning an item; all
    # due days from now, so no reminder ever depends on when a return was applied.
    recent: list[tuple[str, list[str]]] = [
        (m1, fit[0:2]),
        (m3, hand[6:7]),
        (m1, [fit[0], fit[2]]),  # returns F1, borrows F3
        (m2, fit[1:2]),  # returns m1's F2
        (m3, hand[6:8]),  # returns H7, borrows H8
    ]
    recent += [(m3 if k % 2 == 0 else m2, fit[3:4]) for k in range(3 + n)]  # F4 out and back
    starts = [now - timedelta(days=days, minutes=7 * v + n) for v, (days, _, _) in enumerate(old)]
    starts += [
        now - timedelta(hours=20 * (1 - k / len(recent)), minutes=n) for k in range(len(recent))
    ]
    plan = [(card, tags) for _, card, tags in old] + recent
    stages = {tag: OVERDUE_STAGES[days] for days, _, tags in old for tag in tags}
    items = {tag: Category.HAND_TOOLS for tag in hand} | {tag: Category.FITNESS for tag in fit}
    return HutPlan(hut, cards, items, visits(hut, plan, starts=starts), stages)


LoanRow = tuple[str, str, datetime, datetime | None]  # tag, card, borrowed_at, returned_at


def expected_loans(events: Sequence[AnyEvent]) -> list[LoanRow]:
    """What the scans do, one after the other: an item on loan comes back, else goes out."""
    out: dict[str, tuple[str, datetime]] = {}
    loans: list[LoanRow] = []
    for event in events:
        if not isinstance(event, ScanEvent):
            continue
        assert event.card is not None
        if event.text in out:
            card, borrowed = out.pop(event.text)
            loans.append((event.text, card, borrowed, event.ts))
        else:
            out[event.text] = (event.card, event.ts)
    return loans + [(tag, card, at, None) for tag, (card, at) in out.items()]


def start_server(
    name: str, *, db_url: str, broker: Broker, prefix: str, receiver: WebhookReceiver,
    keys: TestKeys,
) -> ToolhutProcess:  # fmt: skip
    # Each process posts to its own path of the one receiver: the path says who sent.
    reminders = {
        "interval_s": 0.2,
        "quiet_start": "00:00",  # no quiet hours: the test runs at any hour
        "quiet_end": "00:00",
        "channels": {
            "webhook": f"{receiver.apprise_base}/member/{name}",
            "staff": f"{receiver.apprise_base}/staff/{name}",
        },
        "deliver_chunk": 2,  # small leases, so the two processes take turns delivering
        "stock_alerts": False,
    }
    env = {
        "TOOLHUT_SERVER_SHARED_GROUP": GROUP,
        "TOOLHUT_SERVER_REMINDERS": json.dumps(reminders),
        # The staff channel carries the overdue loans only, here: no monthly report.
        "TOOLHUT_SERVER_REPORTS__MONTHLY": "false",
    }
    # One secret file for every process sharing the database: the huts' keys derive from it.
    return ToolhutProcess(
        "server", "--db", db_url, "--mqtt", broker.url, "--prefix", prefix,
        "--port", str(free_port()), "--secret-file", str(keys.secret_file), env=env,
    )  # fmt: skip


@pytest.fixture
def db_url(postgres_url: str) -> Iterator[str]:
    with fresh_postgres_schema(postgres_url) as url:
        yield url


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition``; the asserts that follow say what is wrong if it never came."""
    with contextlib.suppress(AssertionError):
        poll_until(condition, timeout=TIMEOUT, what=what)


def test_two_servers_share_the_events_and_the_reminders(
    db_url: str, broker: Broker, topic_prefix: str, keys: TestKeys
) -> None:
    if broker.kind.startswith("embedded"):
        pytest.skip(f"{broker.kind}: no MQTT shared subscriptions, scale-out test skipped")
    started = time.monotonic()
    now = datetime.now(UTC)
    rng = random.Random(4)
    plans = [plan_hut(n, now) for n in range(len(HUTS))]
    furnish(db_url, plans)
    topics = Topics(topic_prefix)
    engine = make_engine(db_url)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        for hut in HUTS:
            stack.callback(clear_retained, broker.url, topics.allowlist(hut))
        receiver = stack.enter_context(webhook_receiver())
        link = FakeGatewayLink(broker.url, topics, keys.keyring)
        stack.callback(link.close)
        servers = {}
        for name in SERVERS:
            servers[name] = start_server(
                name, db_url=db_url, broker=broker, prefix=topic_prefix, receiver=receiver,
                keys=keys,
            )  # fmt: skip
            stack.callback(servers[name].stop)
        for proc in servers.values():
            # Logged on the SUBACK: the broker has the process in the group before the first
            # event goes out.
            proc.expect(
                re.escape(f"ingest worker subscribed to $share/{GROUP}/{topic_prefix}/"),
                timeout=30,
            )

        def lists_published() -> Counter[str]:
            return Counter(
                match.group(1)
                for proc in servers.values()
                for line in list(proc.lines)
                if (match := re.search(r"published allowlist v\d+ for hut (\S+) ", line))
            )

        # Every hut's list out once, by whichever process locked its row first: the other
        # finds the digest current and builds none of them again.
        poll_until(lambda: set(lists_published()) == set(HUTS), timeout=TIMEOUT,
                   what="every hut's allowlist published")  # fmt: skip
        ready = time.monotonic()

        # The gateways send, each hut in its own order. Half-way every gateway resends its
        # last eight events, as after a reconnect before their acks came; at the end the last
        # five and three older ones again. Resends race their originals in the other process.
        published: Counter[str] = Counter()
        sent: dict[str, list[AnyEvent]] = defaultdict(list)

        def publish(events: Sequence[AnyEvent]) -> None:
            for event in events:
                link.send(event)
                published[event.id] += 1
                sent[event.hut].append(event)

        streams = [plan.events for plan in plans]
        order = interleave(streams, rng)
        middle = len(order) * 3 // 5
        publish(order[:middle])
        publish([event for hut in HUTS for event in sent[hut][-8:]])
        publish(order[middle:])
        publish([e for s in streams for e in s[-5:] + rng.sample(s[:-5], 3)])
        published_at = time.monotonic()

        acks: dict[str, list[Outcome]] = defaultdict(list)

        def all_acked() -> bool:
            while not link.acks.empty():
                for ack in link.acks.get_nowait().acks:
                    acks[ack.id].append(ack.outcome)
            # An answer to every send, and the outcome of every event: an event held back
            # (queued) behind one the other process had not committed yet gets a second
            # ack, "applied", from the batch that applies it.
            return all(
                len(acks[event_id]) >= n and Outcome.APPLIED in acks[event_id]
                for event_id, n in published.items()
            )

        eventually(all_acked, "an ack for every event sent, and every event applied")
        acked = time.monotonic()

        expected_claims = {
            (tag, stage)
            for plan in plans
            for tag, stages in plan.stages.items()
            for stage in stages
        }

        def reminded() -> bool:
            with Session(engine) as session:
                claims = {(tag, stage) for tag, stage in session.execute(_claimed_stages())}
                unsent = session.scalar(
                    select(func.count())
                    .select_from(ReminderDelivery)
                    .where(ReminderDelivery.status != DeliveryStatus.SENT)
                )
            return claims == expected_claims and unsent == 0

        eventually(reminded, "every reminder planned and sent")
        reminded_at = time.monotonic()
        # Stopped, so nothing more can go out after the counting below.
        assert {name: proc.stop() for name, proc in servers.items()} == {"a": 0, "b": 0}

    # Every event acked as often as it was sent, plus once when it was applied after being
    # held: no ack lost, none made up; and applied exactly once.
    late = {i: int(Outcome.QUEUED in got) for i, got in acks.items()}
    assert {i: len(acks[i]) - late[i] for i in published} == dict(published)
    outcomes = Counter(o for got in acks.values() for o in got)
    assert set(outcomes) <= {Outcome.APPLIED, Outcome.QUEUED, Outcome.DUPLICATE}, outcomes
    assert {i: got.count(Outcome.APPLIED) for i, got in acks.items()} == dict.fromkeys(acks, 1)
    every_event = {event.id: event for stream in streams for event in stream}
    with Session(engine) as session:
        # One row per event id, applied; each hut's watermark at its last seq, none held,
        # no gap seen and no gateway restart suspected.
        rows = Counter(session.scalars(select(EventRecord.event_id)))
        assert rows == Counter(every_event.keys())
        stored = Counter(session.scalars(select(EventRecord.outcome)))
        assert stored == {Outcome.APPLIED.value: len(every_event)}
        marks = {r.hut_id: (r.applied_seq, r.held) for r in session.scalars(select(HutSequence))}
        assert marks == {plan.hut: (len(plan.events), 0) for plan in plans}
        assert session.scalar(select(func.count()).select_from(SequenceGap)) == 0
        # The ledger: one loan per borrow scan, returned by the next scan of the item.
        loans = [
            (tag, card, borrowed, back)
            for tag, card, borrowed, back in session.execute(
                select(Item.tag, Card.uid, Loan.borrowed_at, Loan.returned_at)
                .join(Item, Item.id == Loan.item_id)
                .join(Card, Card.member_id == Loan.member_id)
            )
        ]
        assert sorted(loans, key=repr) == sorted(
            (row for s in streams for row in expected_loans(s)), key=repr
        )
        on_loan = {tag for s in streams for tag, _, _, back in expected_loans(s) if back is None}
        statuses = {tag: status for tag, status in session.execute(select(Item.tag, Item.status))}
        assert statuses == {
            tag: "on_loan" if tag in on_loan else "available"
            for plan in plans
            for tag in plan.items
        }

        # Reminders: each (loan, stage) claimed once; each message's channels sent once.
        assert {
            (tag, stage) for tag, stage in session.execute(_claimed_stages())
        } == expected_claims
        channels = defaultdict(set)
        for audience, channel, status in session.execute(
            select(
                ReminderMessage.audience, ReminderDelivery.channel, ReminderDelivery.status
            ).join(ReminderMessage, ReminderMessage.id == ReminderDelivery.message_id)
        ):
            assert status == DeliveryStatus.SENT
            channels[audience].add(channel)
        assert channels == {"member": {"webhook", "display"}, "staff": {"staff"}}
        attempts = Counter(
            session.scalars(select(ReminderAttempt.delivery_id).where(ReminderAttempt.ok))
        )
        delivered = session.scalars(select(ReminderDelivery.id)).all()
        assert attempts == Counter(delivered)
        external = session.scalar(
            select(func.count())
            .select_from(ReminderDelivery)
            .where(ReminderDelivery.channel.in_(("webhook", "staff")))
        )
    # On the wire: each overdue loan in exactly one resident message and, past a week, in
    # exactly one staff message; nothing for the loans that were never overdue.
    assert len(receiver.posts) == external
    told: dict[str, Counter[str]] = {"member": Counter(), "staff": Counter()}
    senders: Counter[str] = Counter()
    for path, post in receiver.posts:
        _, audience, sender = path.split("/")
        senders[sender] += 1
        for plan in plans:
            for tag in plan.items:
                told[audience][tag] += name_of(tag) in post["message"]
    for audience, stage in (("member", "overdue"), ("staff", "escalation_7d")):
        assert +told[audience] == Counter(
            {
                tag: 1
                for plan in plans
                for tag, stages in plan.stages.items()
                if any(s.startswith(stage) for s in stages)
            }
        ), audience

    # Both processes took part: the group split the messages between them, none went to
    # both, and the acks the gateways heard are the ones the two processes say they sent.
    taken = {name: stop_line(proc) for name, proc in servers.items()}
    assert all(n > 0 for n, _ in taken.values()), taken
    assert sum(n for n, _ in taken.values()) == sum(published.values()), taken
    assert sum((by for _, by in taken.values()), Counter()) == outcomes
    assert lists_published() == dict.fromkeys(HUTS, 1)
    for name, proc in servers.items():
        trouble = [line for line in proc.lines if " ERROR " in line or "Traceback" in line]
        assert not trouble, f"server {name}:\n" + "\n".join(trouble[:20])
    warnings = {n: sum(" WARNING " in line for line in p.lines) for n, p in servers.items()}
    print(
        f"\nscale-out: {len(every_event)} events + {sum(published.values()) - len(published)} "
        f"resent; taken and acked per server {taken}; reminder posts per server "
        f"{dict(senders)}; warnings logged {warnings}; start {ready - started:.1f} s, "
        f"publish {published_at - ready:.1f} s, all acked +{acked - published_at:.1f} s, "
        f"all reminded +{reminded_at - acked:.1f} s"
    )


def _claimed_stages() -> Select[str, str]:
    return (
        select(Item.tag, ReminderClaim.stage)
        .join(Loan, Loan.id == ReminderClaim.loan_id)
        .join(Item, Item.id == Loan.item_id)
    )
