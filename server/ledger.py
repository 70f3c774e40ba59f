"""Apply gateway events to the ledger, exactly once and in per-hut order, and say what the
hut should show.

Between the MQTT adapter and the database: no MQTT here, so any adapter (a replay tool,
a test, an HTTP upload later) applies events the same way.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.domain import (
    DEFAULT_POLICY,
    LoanPolicy,
    Refusal,
    parse_scan_text,
)
from server.domain.changes import AnomalyRaised, Effects
from server.domain.commands import CardTap, DoorChange, EnrolRead, HutCommand, Scan
from server.domain.ledger_state import AnomalyKind, MemberState
from server.domain.rule_book import decide
from server.storage import event_log, queries, reminder_queries
from server.storage.effect_writer import EffectWriter
from server.storage.event_log import Claim
from server.storage.ingest_models import GapKind, HutSequence
from server.storage.models import Hut
from server.storage.policy_store import load_policy
from server.storage.snapshots import BatchKeys, Snapshots, keys_of
from toolhut.contract import (
    AnyEvent,
    Beep,
    CardDecision,
    CardEvent,
    DoorEvent,
    DoorState,
    EventAck,
    Feedback,
    Outcome,
    ScanEvent,
    stored_event,
)

log = logging.getLogger(__name__)

DEFAULT_GAP_TIMEOUT = timedelta(seconds=30)


PRELOAD_FROM = 8  # events in a batch from which Snapshots.preload pays for itself


class _Ledger:
    """One transaction's ledger work: the loader, the rule book and the effect writer,
    and the stored policy (loaded once, when a scan first needs it)."""

    def __init__(self, db: Session, *, policy: LoanPolicy) -> None:
        self.db = db
        self.writer = EffectWriter(db)
        self.loader = Snapshots(db, self.writer)
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
        command = _command(event)
        if command is None:
            return Outcome.APPLIED, None, None
        policy = self.policy if isinstance(command, Scan) else DEFAULT_POLICY
        snapshot = self.loader.snapshot(command, hut=hut, now=happened_at, policy=policy)
        effects = decide(snapshot, command)
        self.writer.apply(effects)
        _log(event, effects, hut=hut)
        feedback = _feedback(effects)
        reason = effects.reason
        if isinstance(command, CardTap) and command.unlocked and reason is None:
            # A reminder waiting for this member's next visit goes on the hut display.
            line = self._display_line(snapshot.card_member, now=received_at)
            if line is not None:
                feedback = Feedback(beep=Beep.OK, text=line)
        outcome = Outcome.APPLIED if reason is None else Outcome.REJECTED
        return outcome, reason, feedback

    def _display_line(self, member: MemberState | None, *, now: datetime) -> str | None:
        if member is None or not self.loader.may_have_display_line(member.id):
            return None
        return reminder_queries.take_display_message(self.db, member_id=member.id, now=now)


def _command(event: AnyEvent) -> HutCommand | None:
    """The domain's command for a gateway event (None: it changes nothing in the ledger,
    such as a controller's hello or an alarm)."""
    if isinstance(event, CardEvent):
        if event.decision is CardDecision.ENROL:
            return EnrolRead(event.card, event.id)
        return CardTap(event.card, event.session, event.decision is CardDecision.UNLOCKED)
    if isinstance(event, DoorEvent):
        return DoorChange(event.session, event.state is DoorState.OPEN)
    if isinstance(event, ScanEvent):
        return Scan(event.seq, event.text, event.card, event.session)
    return None


def _feedback(effects: Effects) -> Feedback | None:
    """What the hut shows: the one conversion from the rule book's to the contract's."""
    shown = effects.feedback
    if shown is None:
        return None
    return Feedback(beep=Beep.OK if shown.ok else Beep.ERROR, text=shown.text)


def _log(event: AnyEvent, effects: Effects, *, hut: Hut) -> None:
    # By the door session, never the card: a card UID is a credential.
    if isinstance(event, CardEvent) and event.decision is CardDecision.ENROL:
        log.info("hut %s: a card was read for enrolment (event %s)", hut.id, event.id)
    for change in effects.changes:
        if isinstance(change, AnomalyRaised) and change.kind is AnomalyKind.UNSCANNED_REMOVAL:
            log.warning("hut %s session %s: door opened, nothing scanned", hut.id, event.session)
    if isinstance(event, ScanEvent) and effects.decision is not None:
        decision = effects.decision
        log.info(
            "hut %s seq %d scan %r session %s: %s %s",
            hut.id,
            event.seq,
            event.text[:80],
            event.session,
            decision.action.value,
            decision.reason.value if decision.reason else "",
        )


def apply_event(
    db: Session,
    event: AnyEvent,
    *,
    hut: Hut,
    received_at: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
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
    ledger = _Ledger(db, policy=policy)
    outcome, reason, feedback = ledger.apply(event, hut=hut, received_at=received_at)
    ledger.writer.finish()
    queries.set_event_outcome(
        record, outcome=outcome.value, reason=None if reason is None else reason.value
    )
    return EventAck(id=event.id, seq=event.seq, outcome=outcome, feedback=feedback)


@dataclass(slots=True)
class _Pending:
    event: AnyEvent
    row_id: int
    received_at: datetime
    new: bool  # arrived in this batch (it gets an ack now); else held from before


@dataclass(slots=True)
class BatchResult:
    """Acks per hut for the events of the batch, and the counts of what happened."""

    acks: dict[str, list[EventAck]] = field(default_factory=lambda: defaultdict(list))
    applied: int = 0
    held: int = 0
    released: int = 0  # held before, applied now
    duplicates: int = 0
    held_ids: set[str] = field(default_factory=set)


def apply_batch(
    db: Session,
    events: Sequence[AnyEvent],
    *,
    huts: dict[str, Hut],
    received_at: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    gap_timeout: timedelta = DEFAULT_GAP_TIMEOUT,
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
    fresh: dict[str, list[_Pending]] = defaultdict(list)
    for event in unique.values():
        if event.id in claimed:
            fresh[event.hut].append(_Pending(event, claimed[event.id], received_at, new=True))
    ledger = _Ledger(db, policy=policy)
    batch = [p.event for pending in fresh.values() for p in pending]
    # A resident waiting at the hut is usually a batch of one: there the preload's dozen
    # queries cost more than the few lookups the loader makes on a miss.
    if len(batch) >= PRELOAD_FROM:
        # After the huts' watermark rows are locked: no other worker changes their sessions.
        ledger.loader.preload(_keys(batch))
    outcomes: list[tuple[int, str, str | None]] = []
    for hut_id in sorted(fresh):
        _HutRun(
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
    ledger.writer.finish()
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
) -> BatchResult:
    """Apply events held longer than ``gap_timeout`` for huts that sent nothing since."""
    result = BatchResult()
    hut_ids = event_log.huts_held_since(db, before=now - gap_timeout)
    if not hut_ids:
        return result
    sequences = event_log.lock_sequences(db, hut_ids)
    ledger = _Ledger(db, policy=policy)
    outcomes: list[tuple[int, str, str | None]] = []
    for hut_id in hut_ids:
        hut = queries.get_hut(db, hut_id)
        if hut is None:
            continue
        _HutRun(
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
    ledger.writer.finish()
    return result


class _HutRun:
    """One hut's share of a batch, under its watermark row's lock."""

    def __init__(
        self,
        db: Session,
        ledger: _Ledger,
        *,
        sequence: HutSequence,
        hut: Hut,
        now: datetime,
        gap_timeout: timedelta,
        result: BatchResult,
        outcomes: list[tuple[int, str, str | None]],
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.sequence = sequence
        self.hut = hut
        self.now = now
        self.gap_timeout = gap_timeout
        self.result = result
        self.outcomes = outcomes

    def run(self, fresh: list[_Pending]) -> None:
        watermark = self.sequence.applied_seq
        held = self._load_held() if self.sequence.held else []
        behind = sorted((p for p in fresh if p.event.seq <= watermark), key=_seq)
        ahead = [p for p in fresh if p.event.seq > watermark]
        restart: list[_Pending] = []
        for pending in behind:
            gap = event_log.gap_containing(self.db, self.hut.id, pending.event.seq)
            if gap is not None:
                gap.late += 1
                log.warning(
                    "hut %s: seq %d arrived after its gap was reported; applied late",
                    self.hut.id,
                    pending.event.seq,
                )
                self._apply(pending)
            else:
                restart.append(pending)
        if restart:
            watermark = self._reset(restart, held, watermark)
            held = []
            ahead = restart + ahead
        queue = sorted(held + ahead, key=_seq)
        while queue:
            first = queue[0]
            if first.event.seq <= watermark + 1:
                self._apply(queue.pop(0))
                watermark = max(watermark, first.event.seq)
                continue
            oldest = min(p.received_at for p in queue)
            if self.now - oldest < self.gap_timeout:
                break
            missing = (watermark + 1, first.event.seq - 1)
            event_log.add_gap(
                self.db,
                hut_id=self.hut.id,
                kind=GapKind.MISSING,
                first_seq=missing[0],
                last_seq=missing[1],
                at=self.now,
                detail=f"waited {self.gap_timeout.total_seconds():.0f} s",
            )
            log.warning(
                "hut %s: seq %d..%d never came; applying seq %d on",
                self.hut.id,
                missing[0],
                missing[1],
                first.event.seq,
            )
            watermark = first.event.seq - 1
        for pending in queue:
            if pending.new:
                self._ack(pending.event, Outcome.QUEUED)
                self.outcomes.append((pending.row_id, Outcome.QUEUED.value, None))
                self.result.held += 1
                self.result.held_ids.add(pending.event.id)
        self.sequence.applied_seq = watermark
        self.sequence.held = len(queue)
        self.sequence.held_since = min((p.received_at for p in queue), default=None)

    def _load_held(self) -> list[_Pending]:
        rows = event_log.held_rows(self.db, self.hut.id, outcome=Outcome.QUEUED.value)
        return [
            _Pending(
                stored_event(row.payload),
                row.row_id,
                row.received_at,
                new=False,
            )
            for row in rows
        ]

    def _reset(self, restart: list[_Pending], held: list[_Pending], watermark: int) -> int:
        """The gateway numbers from 1 again: what it held from before goes first, then the
        new numbering is awaited from its start."""
        first = min(p.event.seq for p in restart)
        event_log.add_gap(
            self.db,
            hut_id=self.hut.id,
            kind=GapKind.RESET,
            first_seq=first,
            last_seq=watermark,
            at=self.now,
            detail=f"unseen event at seq {first} <= applied {watermark}; "
            f"{len(held)} held events applied",
        )
        log.warning(
            "hut %s: new event at seq %d, already applied up to %d: the gateway started "
            "its numbering again",
            self.hut.id,
            first,
            watermark,
        )
        for pending in sorted(held, key=_seq):
            self._apply(pending)
        return 0

    def _apply(self, pending: _Pending) -> None:
        if pending.new:
            outcome, refusal, feedback = self.ledger.apply(
                pending.event, hut=self.hut, received_at=pending.received_at
            )
            reason = None if refusal is None else refusal.value
            self.result.applied += 1
            self._ack(pending.event, outcome, feedback)
        else:
            outcome, reason, feedback = self._apply_held(pending)
            self.result.released += 1
            # Its first ack said "queued": this one carries what the hut should show (the
            # gateway shows it if the resident may still be there).
            self._ack(pending.event, outcome, feedback)
        if outcome is not Outcome.APPLIED or not pending.new:
            self.outcomes.append((pending.row_id, outcome.value, reason))

    def _apply_held(self, pending: _Pending) -> tuple[Outcome, str | None, Feedback | None]:
        # Its first ack went out before; if it breaks the server now, it must not hold the
        # hut's later events hostage: record the failure and go on.
        try:
            with self.ledger.writer.savepoint():
                outcome, reason, feedback = self.ledger.apply(
                    pending.event, hut=self.hut, received_at=pending.received_at
                )
        except Exception as exc:  # noqa: BLE001  recorded on the event's row
            log.exception("hut %s: held seq %d failed", self.hut.id, pending.event.seq)
            return Outcome.REJECTED, f"server error: {type(exc).__name__}"[:32], None
        return outcome, None if reason is None else reason.value, feedback

    def _ack(self, event: AnyEvent, outcome: Outcome, feedback: Feedback | None = None) -> None:
        self.result.acks[self.hut.id].append(
            EventAck(id=event.id, seq=event.seq, outcome=outcome, feedback=feedback)
        )


def _seq(pending: _Pending) -> int:
    return pending.event.seq


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
