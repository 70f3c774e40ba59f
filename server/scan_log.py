"""What the process log says about the scans a transaction applied: one line per hut.

A hut's lone scan (a resident at the hut) gets its own line, with the label it read and
what was decided. A hut's many scans in one transaction (a gateway draining its outbox
after an outage) get one line of counts, and their own lines at DEBUG: a line per scan
cost the server about an eighth of its rate in a drain (bench/outbox_drain.py on SQLite:
5,770-6,020 events/s with it, 6,700-6,760 without), and every event, its outcome and
its reason are in the ledger's event log anyway.

Never the card: a card UID is a credential. A scan is named by its door session.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable

from server.domain.lending import Decision
from toolhut.contract import ScanEvent

log = logging.getLogger(__name__)

_LINE = "hut %s seq %d scan %r session %s: %s %s"


class ScanLog:
    """Scans as they are applied, written by ``write`` when the transaction's work is done."""

    def __init__(self) -> None:
        self._scans: defaultdict[str, list[tuple[ScanEvent, Decision]]] = defaultdict(list)

    def add(self, hut_id: str, event: ScanEvent, decision: Decision) -> None:
        if log.isEnabledFor(logging.INFO):
            self._scans[hut_id].append((event, decision))

    def write(self) -> None:
        for hut_id, scans in self._scans.items():
            if len(scans) == 1:
                _scan_line(logging.INFO, hut_id, *scans[0])
                continue
            if log.isEnabledFor(logging.DEBUG):
                for event, decision in scans:
                    _scan_line(logging.DEBUG, hut_id, event, decision)
            seqs = [event.seq for event, _ in scans]
            log.info(
                "hut %s seq %d-%d: %d scans: %s",
                hut_id,
                min(seqs),
                max(seqs),
                len(scans),
                _counts(decision for _, decision in scans),
            )
        self._scans.clear()


def _scan_line(level: int, hut_id: str, event: ScanEvent, decision: Decision) -> None:
    reason = decision.reason.value if decision.reason else ""
    log.log(level, _LINE, hut_id, event.seq, event.text[:80], event.session,
            decision.action.value, reason)  # fmt: skip


def _counts(decisions: Iterable[Decision]) -> str:
    """ "borrow 40, return 38, refuse 2 (unknown_item 2)": actions, most first, and the
    reasons of the refusals."""
    actions: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for decision in decisions:
        actions[decision.action.value] += 1
        if decision.reason is not None:
            reasons[decision.reason.value] += 1
    shown = ", ".join(f"{action} {n}" for action, n in actions.most_common())
    if reasons:
        shown += " (" + ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()) + ")"
    return shown
