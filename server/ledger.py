"""Apply gateway events to the ledger, exactly once and in per-hut order, and say what the
hut should show.

Between the MQTT adapter and the database: no MQTT here, so any adapter (a replay tool,
a test, an HTTP upload later) applies events the same way. Each event becomes the
domain's command and goes loader -> rule book -> effect writer (``_Ledger``); the order
of each hut's events (gaps, held events, renumbering) is server/hut_order.py's.

- ``apply_event``: one event, now, whatever its seq (tools and tests).
- ``apply_batch``: what the ingest worker calls. It claims the batch's event ids in one
  statement, takes each hut's watermark row as a lock, applies the events that come next
  in seq order and holds back (outcome ``queued``) those behind a gap. A held event is
  applied once the gap fills, or once it has waited ``gap_timeout``; then the seqs that
  never came are reported as a gap. ``release_overdue`` does the latter for huts that send
  nothing more.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.domain import (
    DEFAULT_POLICY,
    LoanPolicy,
    Refusal,
    parse_scan_text,
)
from server.domain.alarms import AlarmKind, AlarmSource
from server.domain.changes import (
    AlarmCleared,
    AlarmRaised,
    AnomalyRaised,
    CommandAnswered,
    Effects,
    EnrolmentClosed,
)
from server.domain.commands import (
    AlarmReport,
    CardTap,
    CommandReport,
    ControllerReport,
    DoorChange,
    EnrolRead,
    HutCommand,
    Scan,
)
from server.domain.ledger_state import AnomalyKind, MemberState
from server.domain.remote_commands import CommandStatus
from server.domain.rule_book import decide
from server.hut_order import BatchResult, HutRun, Pending
from server.scan_log import ScanLog
from server.storage import event_log, queries, reminder_queries
from server.storage.effect_writer import EffectWriter
from server.storage.event_log import Claim
from server.storage.models import Hut
from server.storage.policy_store import load_policy
from server.storage.resident_codes import DISPLAY_CODES, SignInCodes
from server.storage.snapshots import BatchKeys, Snapshots, keys_of
from toolhut.contract import (
    AlarmEvent,
    AnyEvent,
    Beep,
    CardDecision,
    CardEvent,
    CommandEvent,
    ControllerEvent,
    DoorEvent,
    DoorState,
    EventAck,
    Feedback,
    Outcome,
    ScanEvent,
)

log = logging.getLogger(__name__)

DEFAULT_GAP_TIMEOUT = timedelta(seconds=30)


PRELOAD_FROM = 8  # events in a batch from which Snapshots.preload pays for itself


class _Ledger:
    """One transaction's ledger work: the loader, the rule book and the effect writer,
    and the stored policy (loaded once, when a scan first needs it)."""

    def __init__(
        self, db: Session, *, policy: LoanPolicy, sign_in: SignInCodes = DISPLAY_CODES
    ) -> None:
        self.db = db
        self.writer = EffectWriter(db)
        self.loader = Snapshots(db, self.writer, sign_in)
        self.scans = ScanLog()
        self._base = policy
        self._policy: LoanPolicy | None = None

    @property
    def policy(self) -> LoanPolicy:
        if self._policy is None:
            # The stored policy (categories table) wins over the base where it has a category.
            self._policy = load_policy(self.db, base=self._base)
        return self._policy

    def apply(
        self, event: AnyEvent, *, hut: Hut, received_at: datetime
    ) -> tuple[Outcome, Refusal | None, Feedback | None]:
        """The event's effect on the ledger (its id is already claimed)."""
        # An offline hut reports later what happened earlier: loans date from the gateway's
        # clock, but never from the future of ours.
        happened_at = min(event.ts, received_at)
        command = _command(event, received_at=received_at)
        if command is None:
            return Outcome.APPLIED, None, None
        policy = self.policy if isinstance(command, Scan) else DEFAULT_POLICY
        snapshot = self.loader.snapshot(
            command, hut=hut, now=happened_at, policy=policy, heard_at=received_at
        )
        effects = decide(snapshot, command)
        self.writer.apply(effects)
        _log(event, effects, hut=hut)
        if isinstance(event, ScanEvent) and effects.decision is not None:
            self.scans.add(hut.id, event, effects.decision)
        feedback = _feedback(effects)
        reason = effects.reason
        if isinstance(command, CardTap) and command.unlocked and reason is None:
            # A reminder waiting for this member's next visit goes on the hut display.
            line = self._display_line(snapshot.card_member, now=received_at)
            if line is not None:
                feedback = Feedback(beep=Beep.OK, text=line)
        outcome = Outcome.APPLIED if reason is None else Outcome.REJECTED
        return outcome, reason, feedback

    def finish(self) -> None:
        """The transaction's ledger work is done: its buffered writes go to the session,
        and the log says what its scans did."""
        self.writer.finish()
        self.scans.write()

    def _display_line(self, member: MemberState | None, *, now: datetime) -> str | None:
        if member is None or not self.loader.may_have_display_line(member.id):
            return None
        return reminder_queries.take_display_message(self.db, member_id=member.id, now=now)


def _command(event: AnyEvent, *, received_at: datetime) -> HutCommand | None:
    """The domain's command for a gateway event (None: it changes nothing in the ledger).
    ``received_at``: when the server heard it, which an alarm's row is stamped with."""
    if isinstance(event, CardEvent):
        if event.decision is CardDecision.ENROL:
            return EnrolRead(event.card, event.id)
        return CardTap(event.card, event.session, event.decision is CardDecision.UNLOCKED)
    if isinstance(event, DoorEvent):
        return DoorChange(event.session, event.state is DoorState.OPEN)
    if isinstance(event, ScanEvent):
        return Scan(event.seq, event.text, event.card, event.session)
    if isinstance(event, AlarmEvent):
        kind, source = AlarmKind(event.kind.value), AlarmSource(event.source)
        return AlarmReport(kind, event.active, source, event.id, received_at)
    if isinstance(event, ControllerEvent):
        return ControllerReport(event.state, event.id, received_at)
    if isinstance(event, CommandEvent):
        outcome = CommandStatus(event.outcome.value)
        return CommandReport(event.command, event.action, outcome, event.detail, event.session)
    return None


def _feedback(effects: Effects) -> Feedback | None:
    """What the hut shows: the one conversion from the rule book's to the contract's."""
    shown = effects.feedback
    if shown is None:
        return None
    return Feedback(beep=Beep.OK if shown.ok else Beep.ERROR, text=shown.text)


_LOGGED_CHANGES = (EnrolmentClosed, AnomalyRaised, AlarmRaised, AlarmCleared)


def _log(event: AnyEvent, effects: Effects, *, hut: Hut) -> None:
    # By the door session, never the card: a card UID is a credential.
    if isinstance(event, CardEvent) and event.decision is CardDecision.ENROL:
        log.info("hut %s: a card was read for enrolment (event %s)", hut.id, event.id)
    if isinstance(event, CommandEvent):
        answered = any(isinstance(change, CommandAnswered) for change in effects.changes)
        log.info(
            "hut %s: %s command %s %s%s",
            hut.id,
            event.action,
            event.command,
            event.outcome.value,
            "" if answered else " (not awaited: another server's, a sync or a repeat)",
        )
    for change in effects.changes:
        if not isinstance(change, _LOGGED_CHANGES):  # most changes: one check, not four
            continue
        if isinstance(change, EnrolmentClosed):  # the request's id, never the card's UID
            log.info("hut %s: enrolment request %d %s", hut.id, change.request_id, change.state)
        if isinstance(change, AnomalyRaised) and change.kind is AnomalyKind.UNSCANNED_REMOVAL:
            log.warning("hut %s session %s: door opened, nothing scanned", hut.id, event.session)
        if isinstance(change, AnomalyRaised) and change.kind is AnomalyKind.SCAN_BY_NOBODY:
            log.warning("hut %s seq %d: a scan with no card and no session", hut.id, event.seq)
        if isinstance(change, AlarmRaised):
            log.warning("hut %s: alarm %s reported (event %s)", hut.id, change.kind, event.id)
        if isinstance(change, AlarmCleared):
            log.info("hut %s: alarm %s cleared (event %s)", hut.id, change.kind, event.id)


def apply_event(
    db: Session,
    event: AnyEvent,
    *,
    hut: Hut,
    received_at: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    sign_in: SignInCodes = DISPLAY_CODES,
) -> EventAck:
    """Record ``event`` (from ``hut``) and apply it now; a known event id changes nothing."""
    record = queries.claim_event(
        db,
        event_id=event.id,
        hut_id=hut.id,
        seq=event.seq,
        type=event.type,
        ts=event.ts,
        received_at=received_at,
        payload=event.model_dump(mode="json"),
    )
    if record is None:
        return EventAck(id=event.id, seq=event.seq, outcome=Outcome.DUPLICATE)
    ledger = _Ledger(db, policy=policy, sign_in=sign_in)
    outcome, reason, feedback = ledger.apply(event, hut=hut, received_at=received_at)
    ledger.finish()
    queries.set_event_outcome(
        record, outcome=outcome.value, reason=None if reason is None else reason.value
    )
    return EventAck(id=event.id, seq=event.seq, outcome=outcome, feedback=feedback)


def apply_batch(
    db: Session,
    events: Sequence[AnyEvent],
    *,
    huts: dict[str, Hut],
    received_at: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    gap_timeout: timedelta = DEFAULT_GAP_TIMEOUT,
    sign_in: SignInCodes = DISPLAY_CODES,
) -> BatchResult:
    """Apply ``events`` (all of known huts, in ``huts``) in per-hut seq order, in the
    caller's transaction. Every event of ``events`` gets one ack: applied, rejected,
    duplicate or queued; and an event held back (queued) gets a second one, with its
    feedback, in the batch that applies it."""
    result = BatchResult()
    sequences = event_log.lock_sequences(db, {event.hut for event in events})
    unique: dict[str, AnyEvent] = {}
    repeats: list[AnyEvent] = []  # the same id twice in one batch
    for event in events:
        if event.id in unique:
            repeats.append(event)
        else:
            unique[event.id] = event
    claimed = event_log.claim_events(
        db,
        [Claim(e.id, e.hut, e.seq, e.type, e.ts, e.model_dump_json()) for e in unique.values()],
        received_at=received_at,
        outcome=Outcome.APPLIED.value,
    )
    seen_before = [e for e in unique.values() if e.id not in claimed]
    known = event_log.outcomes_of(db, [e.id for e in seen_before])
    fresh: dict[str, list[Pending]] = defaultdict(list)
    for event in unique.values():
        if event.id in claimed:
            fresh[event.hut].append(Pending(event, claimed[event.id], received_at, new=True))
    ledger = _Ledger(db, policy=policy, sign_in=sign_in)
    batch = [p.event for pending in fresh.values() for p in pending]
    # A resident waiting at the hut is usually a batch of one: there the preload's dozen
    # queries cost more than the few lookups the loader makes on a miss.
    if len(batch) >= PRELOAD_FROM:
        # After the huts' watermark rows are locked: no other worker changes their sessions.
        ledger.loader.preload(_keys(batch))
    outcomes: list[tuple[int, str, str | None]] = []
    for hut_id in sorted(fresh):
        HutRun(
            db,
            ledger,
            sequence=sequences[hut_id],
            hut=huts[hut_id],
            now=received_at,
            gap_timeout=gap_timeout,
            result=result,
            outcomes=outcomes,
        ).run(fresh[hut_id])
    event_log.set_outcomes(db, outcomes)
    event_log.save_watermarks(db, sequences.values())
    ledger.finish()
    for event in [*seen_before, *repeats]:
        # A resend of an event still held back is still held back; anything else is done.
        held = known.get(event.id) == Outcome.QUEUED or event.id in result.held_ids
        outcome = Outcome.QUEUED if held else Outcome.DUPLICATE
        result.acks[event.hut].append(EventAck(id=event.id, seq=event.seq, outcome=outcome))
        result.duplicates += 1
    return result


def release_overdue(
    db: Session,
    *,
    now: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    gap_timeout: timedelta = DEFAULT_GAP_TIMEOUT,
    sign_in: SignInCodes = DISPLAY_CODES,
) -> BatchResult:
    """Apply events held longer than ``gap_timeout`` for huts that sent nothing since."""
    result = BatchResult()
    hut_ids = event_log.huts_held_since(db, before=now - gap_timeout)
    if not hut_ids:
        return result
    sequences = event_log.lock_sequences(db, hut_ids)
    ledger = _Ledger(db, policy=policy, sign_in=sign_in)
    outcomes: list[tuple[int, str, str | None]] = []
    for hut_id in hut_ids:
        hut = queries.get_hut(db, hut_id)
        if hut is None:
            continue
        HutRun(
            db,
            ledger,
            sequence=sequences[hut_id],
            hut=hut,
            now=now,
            gap_timeout=gap_timeout,
            result=result,
            outcomes=outcomes,
        ).run([])
    event_log.set_outcomes(db, outcomes)
    event_log.save_watermarks(db, sequences.values())
    ledger.finish()
    return result


def _keys(events: Sequence[AnyEvent]) -> BatchKeys:
    """The cards, item labels and door sessions ``events`` name, for ``Snapshots.preload``."""
    return keys_of(
        cards=(e.card for e in events if isinstance(e, (CardEvent, ScanEvent))),
        tags=(parse_scan_text(e.text) for e in events if isinstance(e, ScanEvent)),
        doors=((e.hut, e.session) for e in events if e.session is not None),
    )


__all__ = [
    "DEFAULT_GAP_TIMEOUT",
    "AnyEvent",
    "BatchResult",
    "apply_batch",
    "apply_event",
    "release_overdue",
]
