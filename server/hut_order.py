"""Each hut's events in ``seq`` order, under its watermark row's lock: what the ledger's
batches (server/ledger.py) use to apply events next in line, hold back (outcome
``queued``) those behind a gap, give up on a gap after ``gap_timeout`` (recorded as a
gap), and start again when a gateway numbers from 1 anew.

It knows the order, not the rules: each event is handed to an ``Applier`` (the ledger's
loader -> rule book -> effect writer), and every event gets its acks here.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from server.domain import Refusal
from server.storage import event_log
from server.storage.event_log import Watermark
from server.storage.ingest_models import GapKind
from server.storage.models import Hut
from toolhut.contract import AnyEvent, EventAck, Feedback, Outcome, stored_event

log = logging.getLogger(__name__)


class _Savepoints(Protocol):
    def savepoint(self) -> AbstractContextManager[None]: ...


class Applier(Protocol):
    """What applies one event to the ledger (its id already claimed) and says how it went."""

    @property
    def writer(self) -> _Savepoints: ...

    def apply(
        self, event: AnyEvent, *, hut: Hut, received_at: datetime
    ) -> tuple[Outcome, Refusal | None, Feedback | None]: ...


@dataclass(slots=True)
class Pending:
    event: AnyEvent
    row_id: int
    received_at: datetime
    new: bool  # arrived in this batch (it gets an ack now); else held from before


@dataclass(frozen=True, slots=True)
class _Gap:
    """Seqs ``first_seq``..``last_seq`` never came; the hut's events go on at ``resumes``."""

    first_seq: int
    last_seq: int
    resumes: int


@dataclass(slots=True)
class BatchResult:
    """Acks per hut for the events of the batch, and the counts of what happened."""

    acks: dict[str, list[EventAck]] = field(default_factory=lambda: defaultdict(list))
    applied: int = 0
    held: int = 0
    released: int = 0  # held before, applied now
    duplicates: int = 0
    held_ids: set[str] = field(default_factory=set)


class HutRun:
    """One hut's share of a batch, under its watermark row's lock."""

    def __init__(
        self,
        db: Session,
        ledger: Applier,
        *,
        sequence: Watermark,
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

    def run(self, fresh: list[Pending]) -> None:
        watermark = self.sequence.applied_seq
        held = self._load_held() if self.sequence.held else []
        behind = sorted((p for p in fresh if p.event.seq <= watermark), key=_seq)
        ahead = [p for p in fresh if p.event.seq > watermark]
        restart: list[Pending] = []
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
        steps: list[Pending | _Gap] = []  # in seq order: what to apply, and the gaps given up on
        while queue:
            first = queue[0]
            if first.event.seq <= watermark + 1:
                steps.append(queue.pop(0))
                watermark = max(watermark, first.event.seq)
                continue
            oldest = min(p.received_at for p in queue)
            if self.now - oldest < self.gap_timeout:
                break
            steps.append(_Gap(watermark + 1, first.event.seq - 1, resumes=first.event.seq))
            watermark = first.event.seq - 1
        self._take(steps)
        for pending in queue:
            if pending.new:
                self._ack(pending.event, Outcome.QUEUED)
                self.outcomes.append((pending.row_id, Outcome.QUEUED.value, None))
                self.result.held += 1
                self.result.held_ids.add(pending.event.id)
        self.sequence.applied_seq = watermark
        self.sequence.held = len(queue)
        self.sequence.held_since = min((p.received_at for p in queue), default=None)

    def _take(self, steps: list[Pending | _Gap]) -> None:
        """Apply ``steps`` in order. Events held from before (their first ack went out)
        are applied together under one savepoint, not one each: with two server processes
        on a shared subscription a hut's next event often overtakes the one before it, and
        a savepoint per held event was two more round trips and a flush each. If one of
        them breaks the server, the savepoint goes back and they are applied one by one,
        so that only the one that fails is recorded as failed."""
        if not any(isinstance(step, Pending) and not step.new for step in steps):
            for step in steps:
                self._step(step, alone=True)
            return
        mark = self._mark()
        try:
            with self.ledger.writer.savepoint():
                for step in steps:
                    self._step(step, alone=False)
        except Exception:  # noqa: BLE001  redone one by one, where the failure is recorded
            log.warning(
                "hut %s: held events failed together; applying them one by one", self.hut.id
            )
            self._restore(mark)
            for step in steps:
                self._step(step, alone=True)

    def _step(self, step: Pending | _Gap, *, alone: bool) -> None:
        if isinstance(step, Pending):
            self._apply(step, alone=alone)
            return
        event_log.add_gap(
            self.db,
            hut_id=self.hut.id,
            kind=GapKind.MISSING,
            first_seq=step.first_seq,
            last_seq=step.last_seq,
            at=self.now,
            detail=f"waited {self.gap_timeout.total_seconds():.0f} s",
        )
        log.warning(
            "hut %s: seq %d..%d never came; applying seq %d on",
            self.hut.id,
            step.first_seq,
            step.last_seq,
            step.resumes,
        )

    def _mark(self) -> tuple[int, int, int, int]:
        return (
            len(self.result.acks[self.hut.id]),
            len(self.outcomes),
            self.result.applied,
            self.result.released,
        )

    def _restore(self, mark: tuple[int, int, int, int]) -> None:
        """Forget the acks, outcomes and counts made since ``mark`` (rolled back)."""
        acks, outcomes, self.result.applied, self.result.released = mark
        del self.result.acks[self.hut.id][acks:]
        del self.outcomes[outcomes:]

    def _load_held(self) -> list[Pending]:
        rows = event_log.held_rows(self.db, self.hut.id, outcome=Outcome.QUEUED.value)
        return [
            Pending(
                stored_event(row.payload),
                row.row_id,
                row.received_at,
                new=False,
            )
            for row in rows
        ]

    def _reset(self, restart: list[Pending], held: list[Pending], watermark: int) -> int:
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

    def _apply(self, pending: Pending, *, alone: bool = True) -> None:
        """``alone``: a held event goes under a savepoint of its own and its failure is
        recorded; else (``_take``'s savepoint around it) its failure is raised."""
        if pending.new or not alone:
            outcome, refusal, feedback = self.ledger.apply(
                pending.event, hut=self.hut, received_at=pending.received_at
            )
            reason = None if refusal is None else refusal.value
        else:
            outcome, reason, feedback = self._apply_held(pending)
        if pending.new:
            self.result.applied += 1
        else:
            # Its first ack said "queued": this one carries what the hut should show (the
            # gateway shows it if the resident may still be there).
            self.result.released += 1
        self._ack(pending.event, outcome, feedback)
        if outcome is not Outcome.APPLIED or not pending.new:
            self.outcomes.append((pending.row_id, outcome.value, reason))

    def _apply_held(self, pending: Pending) -> tuple[Outcome, str | None, Feedback | None]:
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
        # Built without validating again: the id and seq are a parsed event's, the outcome
        # an Outcome and the feedback a Feedback (validated when the ledger built it).
        ack = EventAck.model_construct(
            id=event.id, seq=event.seq, outcome=outcome, feedback=feedback
        )
        self.result.acks[self.hut.id].append(ack)


def _seq(pending: Pending) -> int:
    return pending.event.seq


__all__ = ["Applier", "BatchResult", "HutRun", "Pending"]
