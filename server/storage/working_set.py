"""The rows one transaction's commands have looked up, by the keys commands name them by.

Shared by the loader (storage/snapshots.py, which fills it) and the effect writer
(storage/effect_writer.py, which keeps it true as it writes). What it may remember, and
why that stays true within the transaction:

- cards, as the CardState (with their member's) the rules read: ingest never adds, moves
  or deletes a card or changes a member; the writer drops what a staff command changes;
- items by tag: ingest never adds an item or changes a tag;
- the open loan of an item (and its LoanState once a snapshot has read it), and open
  loans per member and category: loans are opened, renewed and closed only by the effect
  writer, which tells the working set (``loan_opened`` ...);
- door sessions by (hut, key): opened and changed only by the effect writer, which tells
  it; with each the DoorState the rules last left it in (``door_states``), so the next
  command's snapshot is that state, not one built again from the row's columns;
- an item's active reservations (waiting or held) as rows: ingest adds none, and the
  writer changes their state in place (a snapshot filters by the current state);
- members without a pending display line: ingest adds none.

The last two are a snapshot taken at the start of the batch (or at an item's first
lookup), as if the batch had run a moment earlier than a reservation or reminder
committed by another process meanwhile. After a rolled-back savepoint ``clear`` drops
everything: objects created inside it are gone.
"""

from __future__ import annotations

from itertools import count

from sqlalchemy.orm import Session

from server.domain.ledger_state import CardState, DoorState, LoanState
from server.storage.models import DoorSession, Item, Loan, Reservation


class WorkingSet:
    """See the module docstring."""

    def __init__(self) -> None:
        self._refs = count(-1, -1)
        self.clear()

    def clear(self) -> None:
        self.cards: dict[str, CardState | None] = {}
        self.items: dict[str, Item | None] = {}
        self.open_loans: dict[int, Loan | None] = {}  # by item id
        self.loan_states: dict[int, LoanState] = {}  # by item id, of the open loans
        self.counts: dict[tuple[int, str], int] = {}  # open loans by (member id, category)
        self.counted: set[int] = set()  # members whose every category is in counts
        self.doors: dict[tuple[str, str], DoorSession | None] = {}
        self.door_states: dict[tuple[str, str], DoorState] = {}  # as the row stands now
        self.reservations: dict[int, list[Reservation]] = {}  # by item id, active at load
        self.no_display: set[int] = set()  # member ids with no pending display line
        self._new_loans: dict[int, Loan] = {}  # by negative ref, loans without an id yet
        self._ref_of: dict[int, int] = {}  # id(loan) -> its negative ref

    # Loans, named by a ref (their id, or a negative number while they have none).

    def loan_ref(self, loan: Loan) -> int:
        if loan.id is not None:
            return loan.id
        ref = self._ref_of.get(id(loan))
        if ref is None:
            ref = next(self._refs)
            self._ref_of[id(loan)] = ref
            self._new_loans[ref] = loan
        return ref

    def loan(self, db: Session, ref: int) -> Loan:
        loan = self._new_loans.get(ref) if ref < 0 else db.get(Loan, ref)
        if loan is None:
            raise LookupError(f"no loan {ref}")
        return loan

    def knows_count(self, key: tuple[int, str]) -> bool:
        if key not in self.counts and key[0] in self.counted:
            self.counts[key] = 0  # the preload found none of the member's in this category
        return key in self.counts

    def loan_opened(self, loan: Loan, *, category: str) -> None:
        self.open_loans[loan.item_id] = loan
        self.loan_states.pop(loan.item_id, None)
        key = (loan.member_id, category)
        if self.knows_count(key):
            self.counts[key] += 1

    def loan_changed(self, loan: Loan) -> None:
        self.loan_states.pop(loan.item_id, None)

    def loan_closed(self, loan: Loan, *, category: str) -> None:
        self.open_loans[loan.item_id] = None
        self.loan_states.pop(loan.item_id, None)
        key = (loan.member_id, category)
        if self.knows_count(key):
            self.counts[key] -= 1

    def door_opened(self, door: DoorSession) -> None:
        self.doors[(door.hut_id, door.key)] = door


__all__ = ["WorkingSet"]
