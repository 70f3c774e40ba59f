"""The server's Prometheus metrics: what the ingest worker, the allowlist publisher and the
reminder sweep count as they work, and (server.operations_gauges) what the database says
at scrape time about the huts and their alarms.

The registry: one per ``ServerMetrics``, which ServerRuntime makes and passes down to its
ingest worker, reminder service and app, rather than prometheus_client's process-global
default. A process may run more than one server (the tests do, and the demo runs one
beside other work): with one registry each, every /metrics says what its own workers
did, and a second runtime does not fail on names the first registered. The process's
own figures (CPU, memory, open files, GC) are added to each registry, as the default
registry would have them.

Labels are only what this server decides or configures, never what a stranger sends: an
ingest outcome, a coarse class of dead letter (``DeadLetterReason``, never the reason's
text), a hut of the database, a reminder channel of the settings, an alarm kind of the
server. The hot path pays a few counter increments per batch, and for the lag one
bisection per committed event under one lock per batch (server.ingest_lag).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from server.ingest_lag import LagHistogram
from toolhut.contract import AnyEvent, ContractError, EventAck, Outcome

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from server.reminders.types import SweepReport

NAMESPACE = "toolhut"
# Event timestamp (the gateway's clock) to the commit that stored it. A hut's events come
# within a second when it is online and hours late after an outage: both ends matter.
LAG_BUCKETS = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 86400.0,
)  # fmt: skip

__all__ = [
    "CONTENT_TYPE_LATEST",
    "LAG_BUCKETS",
    "DeadLetterReason",
    "ServerMetrics",
    "dead_letter_reason",
]


class DeadLetterReason(StrEnum):
    """Why a message was dead-lettered, coarsely: the label of the dead letters counter
    (the reason's text is the stranger's to shape, so it stays in the dead letter row)."""

    SEAL = "seal"  # no MAC, a malformed one, one that does not match, another hut's
    TOPIC = "topic"  # not an events topic under this server's prefix
    PAYLOAD = "payload"  # sealed, but not an event this contract knows
    UNKNOWN_HUT = "unknown_hut"  # a hut the database does not have
    SERVER_ERROR = "server_error"  # the server failed on it (a bug: see the log)


_SEAL_WORDS = ("unauthenticated", "sealed for")
_TOPIC_WORDS = ("topic ", "not an events topic", "invalid hut id")


def dead_letter_reason(exc: ContractError) -> DeadLetterReason:
    """The class of a message the contract refused, from where the contract refused it."""
    text = str(exc)
    if any(word in text for word in _SEAL_WORDS):
        return DeadLetterReason.SEAL
    if text.startswith(_TOPIC_WORDS):
        return DeadLetterReason.TOPIC
    return DeadLetterReason.PAYLOAD


class ServerMetrics:
    """The counters of one server runtime, in a registry of their own.

    ``sessions``: the database the scrape-time gauges read (huts online, alarms open);
    None for a registry without them (an ingest worker built alone, in a bench)."""

    def __init__(self, *, sessions: sessionmaker[Session] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        self.messages = PromCounter(
            "ingest_messages",
            "Messages taken from the broker's events topics",
            namespace=NAMESPACE,
            registry=r,
        )
        self.events = PromCounter(
            "ingest_events",
            "Event acks sent to the huts, by outcome (an event held back is acked queued, "
            "then applied once it is)",
            ["outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.ack_messages = PromCounter(
            "ingest_ack_messages",
            "AckBatch messages published to the huts",
            namespace=NAMESPACE,
            registry=r,
        )
        self.dead_letters = PromCounter(
            "ingest_dead_letters",
            "Messages dead-lettered, by coarse reason",
            ["reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.lag = LagHistogram(LAG_BUCKETS)  # toolhut_ingest_lag_seconds{hut}
        r.register(self.lag)
        self.allowlists = PromCounter(
            "allowlists_published",
            "Allowlists published to the huts (retained)",
            namespace=NAMESPACE,
            registry=r,
        )
        self.reminders_planned = PromCounter(
            "reminder_deliveries_planned",
            "Reminder deliveries planned, per channel",
            ["channel"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.reminders_sent = PromCounter(
            "reminder_deliveries_sent",
            "Reminder deliveries sent, per channel",
            ["channel"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.reminders_failed = PromCounter(
            "reminder_deliveries_failed",
            "Reminder delivery attempts that failed, per channel (each is retried until "
            "the last attempt)",
            ["channel"],
            namespace=NAMESPACE,
            registry=r,
        )
        # Every label value known in advance starts at 0: rate() and the dashboard see the
        # first increment, and a quiet server shows zeros rather than no data.
        for outcome in Outcome:
            self.events.labels(outcome.value)
        for reason in DeadLetterReason:
            self.dead_letters.labels(reason.value)
        if sessions is not None:
            from server.operations_gauges import OperationsGauges

            self.registry.register(OperationsGauges(sessions))

    def render(self) -> bytes:
        """The registry in Prometheus's text format (CONTENT_TYPE_LATEST)."""
        return generate_latest(self.registry)

    # The ingest worker's, after each commit.

    def taken(self, count: int) -> None:
        self.messages.inc(count)

    def acked(self, acks: Iterable[EventAck]) -> None:
        """One AckBatch published with these acks."""
        self.ack_messages.inc()
        for outcome, count in Counter(ack.outcome for ack in acks).items():
            self.events.labels(outcome.value).inc(count)

    def dead_lettered(self, reasons: Mapping[DeadLetterReason, int]) -> None:
        for reason, count in reasons.items():
            self.dead_letters.labels(reason.value).inc(count)

    def committed(
        self,
        events: Iterable[AnyEvent],
        acks: Mapping[str, Iterable[EventAck]],
        *,
        committed_at: datetime,
    ) -> None:
        """The lag of each event a committed batch stored, once per event id: not of a
        duplicate (stored before: its timestamp says nothing of this commit). A resend of
        an event still held back for a gap is acked queued again, and counted again: rare,
        as the gateway resends only what waits unacked beyond its resend delay."""
        stored = {
            ack.id
            for hut_acks in acks.values()
            for ack in hut_acks
            if ack.outcome is not Outcome.DUPLICATE
        }
        lags: defaultdict[str, list[float]] = defaultdict(list)
        for event in events:
            if event.id not in stored:
                continue
            stored.discard(event.id)  # a second copy in the batch is a duplicate
            lags[event.hut].append(max(0.0, (committed_at - event.ts).total_seconds()))
        self.lag.observe(lags)

    def allowlists_published(self, count: int) -> None:
        self.allowlists.inc(count)

    # The reminder service's, after each sweep (or remind-now).

    def channels(self, names: Iterable[str]) -> None:
        """Start the configured channels' counters at 0."""
        for name in names:
            for counter in (self.reminders_planned, self.reminders_sent, self.reminders_failed):
                counter.labels(name)

    def reminders(self, report: SweepReport) -> None:
        for counter, counts in (
            (self.reminders_planned, report.planned_by_channel),
            (self.reminders_sent, report.sent_by_channel),
            (self.reminders_failed, report.failed_by_channel),
        ):
            for channel, count in counts.items():
                counter.labels(channel).inc(count)
