"""What a resident does to their loans on their own phone: renew one, and see beforehand
whether the rule would. A renewal goes through the staff action (the same rule, the same
write, the same audit log), the actor naming the member (``member:<id>``); a loan that is
not the member's is as good as none (NotFoundError), so a typed id tells nothing of anyone
else's. (Joining and leaving a waiting list are staff_actions.join_line and leave_line,
which name the member themselves.) No HTTP here; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from server import staff_actions
from server.domain import DEFAULT_POLICY, Refusal
from server.domain.rule_book import decide
from server.domain.staff_rules import Renew
from server.staff_actions import NotFoundError
from server.storage import staff_snapshots
from server.storage.audit import Stamp
from server.storage.models import Loan
from server.storage.policy_store import load_policy


def renew(db: Session, *, member_id: int, loan_id: int, now: datetime, stamp: Stamp) -> Loan:
    """RefusedError with the rule's reason where the policy says no."""
    _own_loan(db, member_id, loan_id)
    return staff_actions.renew(db, loan_id=loan_id, now=now, stamp=stamp)


def renewal_refusals(
    db: Session, *, loan_ids: Iterable[int], now: datetime
) -> dict[int, Refusal | None]:
    """Per open loan, why the rule would refuse a renewal now (None: it would renew): the
    staff rule asked without writing anything, so the page offers what a press gives."""
    policy = load_policy(db, base=DEFAULT_POLICY)
    outlook: dict[int, Refusal | None] = {}
    for loan_id in loan_ids:
        snapshot = staff_snapshots.of_loan(db, loan_id, now=now, policy=policy)
        outlook[loan_id] = None if snapshot is None else decide(snapshot, Renew(loan_id)).reason
    return outlook


def _own_loan(db: Session, member_id: int, loan_id: int) -> Loan:
    loan = db.get(Loan, loan_id)
    if loan is None or loan.member_id != member_id:
        raise NotFoundError(f"no loan {loan_id} of member {member_id}")
    return loan
