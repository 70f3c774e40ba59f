"""Delivery of planned messages on their channels, a chunk at a time: lease the due
deliveries, render each, send it outside any transaction, then record every outcome (and
write the stored channels' rows, e.g. the hut display lines) in one transaction.

Exactly once across processes: a delivery is leased (claimed_by, claimed_until) before it
is sent and marked afterwards. A process that dies mid-send leaves a lease that runs out,
and another process sends again: at least once per channel for crashes, exactly once
otherwise. A failed send is retried with a growing delay until ``max_attempts``; member
reminders that come due in quiet hours wait for the morning without counting the attempt;
sends about to outlast the lease are given back unsent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from server.domain.reminders import MANUAL_STAGE, SIGN_IN_STAGE, Audience
from server.reminders import payloads
from server.reminders.channels import Channel, DeliveryError, Outgoing, StoredChannel, stored
from server.reminders.config import ReminderSettings
from server.reminders.payloads import PayloadEntry
from server.reminders.rendering import message_lines, outgoing
from server.reminders.types import SweepReport
from server.reminders.zones import zone_of
from server.storage import reminder_queries as rq
from server.storage.reminder_models import DeliveryStatus, ReminderDelivery

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Sent:
    """What sending a chunk left to record."""

    outcomes: list[rq.Outcome] = field(default_factory=list)
    stored_sends: list[tuple[StoredChannel, Outgoing]] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)  # ledger notices now delivered
    spent: list[int] = field(default_factory=list)  # sign-in messages done: secrets erased
    done: bool = True  # False: stopped early, out of time

    def add(self, job: _Job, outcome: rq.Outcome) -> None:
        self.outcomes.append(outcome)
        final = outcome.status in (DeliveryStatus.SENT, DeliveryStatus.DEAD)
        if final and job.stage == SIGN_IN_STAGE:
            self.spent.append(job.message_id)


class Deliverer:
    """Sends what is due, as one worker among possibly several."""

    def __init__(
        self,
        *,
        settings: ReminderSettings,
        sessions: sessionmaker[Session],
        channels: Mapping[str, Channel],
        worker_id: str,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.channels = channels
        self.worker_id = worker_id
        self.quiet = settings.quiet_hours

    def deliver(
        self, now: datetime, *, report: SweepReport, message_ids: Sequence[int] | None = None
    ) -> SweepReport:
        """Send every delivery that is due and not leased by another worker (of
        ``message_ids`` only, if given), a chunk at a time."""
        chunk = self.settings.deliver_chunk
        until = now + timedelta(seconds=self.settings.lease_s)
        # Real time, not ``now`` (tests fix that): slow sends must give back what they have
        # not sent well before the lease runs out, or a second worker would send it too.
        deadline = time.monotonic() + self.settings.lease_s / 2
        with self.sessions() as db:
            huts = rq.hut_places(db)
        while True:
            with self.sessions.begin() as db:
                leased = rq.lease_deliveries(
                    db,
                    now=now,
                    worker=self.worker_id,
                    until=until,
                    limit=chunk,
                    message_ids=message_ids,
                )
            if not leased:
                return report
            done = self._deliver_chunk(leased, now=now, report=report, huts=huts, deadline=deadline)
            if not done or len(leased) < chunk:
                return report

    def _deliver_chunk(
        self,
        delivery_ids: Sequence[int],
        *,
        now: datetime,
        report: SweepReport,
        huts: Mapping[str, rq.HutPlace],
        deadline: float,
    ) -> bool:
        """False if it stopped early (out of time, or the outcomes could not be recorded)."""
        jobs = self._prepare_chunk(delivery_ids, now=now, huts=huts)
        sent = self._send_all(jobs, now=now, report=report, deadline=deadline)
        return self._record(sent, now=now) and sent.done

    def _prepare_chunk(
        self, delivery_ids: Sequence[int], *, now: datetime, huts: Mapping[str, rq.HutPlace]
    ) -> list[_Job]:
        with self.sessions() as db:
            deliveries = rq.load_deliveries(db, delivery_ids)
            entries = [payloads.from_json(d.message.payload) for d in deliveries]
            live = rq.live_notices(
                db, [i for found in entries for i in payloads.notice_ids(found)], now=now
            )
            return [
                self._prepare(d, found, now=now, huts=huts, live=live)
                for d, found in zip(deliveries, entries, strict=True)
            ]

    def _send_all(
        self, jobs: Sequence[_Job], *, now: datetime, report: SweepReport, deadline: float
    ) -> _Sent:
        sent = _Sent()
        for job in jobs:
            if job.outcome is not None:
                sent.add(job, job.outcome)
                _count(job, job.outcome, report)
                continue
            if time.monotonic() > deadline:
                sent.outcomes.append(job.give_back())
                sent.done = False
                continue
            outcome = self._send(job, now=now, stored_sends=sent.stored_sends)
            sent.add(job, outcome)
            _count(job, outcome, report)
            if outcome.status == DeliveryStatus.SENT:
                sent.notices.extend(job.notice_ids)
        return sent

    def _record(self, sent: _Sent, *, now: datetime) -> bool:
        try:
            with self.sessions.begin() as db:
                for channel, message in sent.stored_sends:
                    channel.send_in(db, message)
                rq.record_outcomes(db, sent.outcomes, worker=self.worker_id, now=now)
                rq.mark_notices_sent(db, sent.notices, now=now)
                for message_id in sent.spent:  # its code and link are nobody's business now
                    rq.set_payload(db, message_id, [])
        except DBAPIError as exc:
            # The leases run out and the chunk is tried again: at least once, not lost (and
            # the display lines, rolled back with the outcomes, still exactly once).
            log.error("could not record %d reminder deliveries: %s", len(sent.outcomes), exc)
            return False
        return True

    def _prepare(
        self,
        delivery: ReminderDelivery,
        entries: Sequence[PayloadEntry] | None,
        *,
        now: datetime,
        huts: Mapping[str, rq.HutPlace],
        live: set[int],
    ) -> _Job:
        message = delivery.message
        tz = zone_of(huts, message.hut_id)
        channel = self.channels.get(delivery.channel)
        job = _Job(delivery, message.stage, channel, notice_ids=payloads.notice_ids(entries))
        lines = message_lines(message, entries, tz=tz, huts=huts, live=live)
        if not lines:
            job.outcome = job.finish(DeliveryStatus.CANCELLED, now=now)
        elif (
            message.audience == Audience.MEMBER
            and not message.stage.startswith(MANUAL_STAGE + "@")
            and message.stage != SIGN_IN_STAGE  # the resident is waiting for it
            and not job.notice_ids  # the hold's clock runs at night too: tell them now
            and self.quiet.contains(now, tz=tz)
        ):
            # A reminder (or a retry) that came due in quiet hours: wait for the morning,
            # without counting the attempt.
            job.outcome = job.finish(
                DeliveryStatus.PENDING,
                now=now,
                error="postponed: quiet hours",
                retry_at=self.quiet.next_end(now, tz=tz),
                refund=True,
            )
        elif channel is None:
            error = f"channel {delivery.channel!r} is not configured"
            job.outcome = job.failed(now=now, error=error, settings=self.settings)
        else:
            job.outgoing = outgoing(
                message,
                delivery,
                channel,
                entries=entries,
                lines=lines,
                now=now,
                group_privacy=self.settings.group_privacy,
                my_page=self.settings.my_page_url,
            )
        return job

    def _send(
        self,
        job: _Job,
        *,
        now: datetime,
        stored_sends: list[tuple[StoredChannel, Outgoing]],
    ) -> rq.Outcome:
        assert job.channel is not None and job.outgoing is not None
        in_db = stored(job.channel)
        if in_db is not None:
            stored_sends.append((in_db, job.outgoing))
            return job.finish(DeliveryStatus.SENT, now=now)
        try:
            job.channel.send(job.outgoing)
        except DeliveryError as exc:
            return job.failed(now=now, error=str(exc), settings=self.settings)
        except Exception as exc:  # a channel bug must not stop the other deliveries
            log.exception("reminder channel %s crashed", job.channel_name)
            return job.failed(now=now, error=f"{type(exc).__name__}: {exc}", settings=self.settings)
        return job.finish(DeliveryStatus.SENT, now=now)


def _count(job: _Job, outcome: rq.Outcome, report: SweepReport) -> None:
    if outcome.status == DeliveryStatus.SENT:
        report.sent += 1
        report.sent_by_channel[job.channel_name] += 1
        log.info(
            "reminder delivery %d sent: %s via %s to member %s",
            job.delivery_id,
            job.stage,
            job.channel_name,
            # Who asked to sign in is nobody's business (the page never tells either).
            "(not logged)" if job.stage == SIGN_IN_STAGE else job.member_id,
        )
    elif outcome.status == DeliveryStatus.CANCELLED:
        report.cancelled += 1
        log.info("reminder delivery %d cancelled: nothing left to tell", job.delivery_id)
    elif outcome.error is not None and not outcome.error.startswith("postponed"):
        report.failed += 1
        report.failed_by_channel[job.channel_name] += 1


class _Job:
    """One leased delivery on its way: what to send, or already how it ended."""

    def __init__(
        self,
        delivery: ReminderDelivery,
        stage: str,
        channel: Channel | None,
        *,
        notice_ids: list[int],
    ) -> None:
        self.delivery_id = delivery.id
        self.message_id = delivery.message_id
        self.attempts = delivery.attempts  # counted by the lease
        self.next_attempt_at = delivery.next_attempt_at
        self.last_error = delivery.last_error
        self.channel_name = delivery.channel
        self.member_id = delivery.message.member_id
        self.stage = stage
        self.channel = channel
        self.notice_ids = notice_ids
        self.outgoing: Outgoing | None = None
        self.outcome: rq.Outcome | None = None

    def finish(
        self,
        status: str,
        *,
        now: datetime,
        error: str | None = None,
        retry_at: datetime | None = None,
        refund: bool = False,
    ) -> rq.Outcome:
        return rq.Outcome(
            delivery_id=self.delivery_id,
            status=status,
            attempts=self.attempts - 1 if refund else self.attempts,
            next_attempt_at=retry_at or self.next_attempt_at,
            error=error,
            sent_at=now if status == DeliveryStatus.SENT else None,
        )

    def failed(self, *, now: datetime, error: str, settings: ReminderSettings) -> rq.Outcome:
        """A failed attempt: retried after a delay that doubles, given up after the last."""
        if self.attempts >= settings.max_attempts:
            log.error(
                "reminder delivery %d (%s, %s) given up after %d attempts: %s",
                self.delivery_id,
                self.stage,
                self.channel_name,
                self.attempts,
                error,
            )
            return self.finish(DeliveryStatus.DEAD, now=now, error=error)
        retry_at = now + settings.retry_delay(self.attempts)
        log.warning(
            "reminder delivery %d (%s, %s) attempt %d failed, retry at %s: %s",
            self.delivery_id,
            self.stage,
            self.channel_name,
            self.attempts,
            retry_at,
            error,
        )
        return self.finish(DeliveryStatus.PENDING, now=now, error=error, retry_at=retry_at)

    def give_back(self) -> rq.Outcome:
        return rq.Outcome(
            delivery_id=self.delivery_id,
            status=DeliveryStatus.PENDING,
            attempts=self.attempts - 1,
            next_attempt_at=self.next_attempt_at,
            error=self.last_error,
            sent_at=None,
            attempted=False,
        )
