"""The one writer of the rule book's changes: ``EffectWriter(db).apply(effects)``.

Rows of the working set are found by id (``Session.get`` hits the identity map) or by key
through the WorkingSet; new loans, door sessions, anomalies, notices and stocktakes are
added to the database session, to be inserted by its next flush. Alarms are statements of
their own (server/storage/alarms.py): one incident per hut and kind is the database's
unique index, not a look-up.

A transaction's first command (a lone event's only one: a resident at the hut) writes its
item, loan, door session and reservation changes and its new loan or door session
directly (``_write``, ``_add``): one UPDATE or INSERT ... RETURNING each, at once, on the
Connection, the ORM objects kept as committed. The ORM's flush of a row or two (history,
unit of work, dependency sort) cost more CPU than a lone event's statements themselves.
From the second command on (a batch), new rows go to the flush, which inserts a batch's
of one table in one executemany; changes of rows already in the database are held by
primary key and written together (storage/row_updates.py), and changes of rows not yet
inserted go straight into what their INSERT will carry: neither is tracked by the ORM.

Scans are rows, not ORM objects: ingest writes two a visit and reads them back only for a
condition card or a stocktake count, and as ORM objects (built, tracked, flushed one by
one) they were about a third of a batch's Python work. They wait in the writer and go in
with one executemany at ``finish()``, which whoever commits calls (the ledger does, at the
end of each batch); the loader calls it before it reads scans (it holds the writer), so
no read in the transaction misses one. ``savepoint()`` is the held-event path's: what
came before is written first, and a rolled-back savepoint drops its own scans and the
working set (objects created inside it are gone).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Table, insert, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, instance_state, set_committed_value

from server.domain.actors import Actor
from server.domain.changes import (
    AlarmCleared,
    AlarmRaised,
    AnomalyRaised,
    CardAdded,
    CardRemoved,
    CardStateChanged,
    Change,
    CommandAnswered,
    ConsumableTaken,
    DoorChanged,
    DoorOpened,
    Effects,
    EnrolmentClosed,
    EnrolmentRead,
    HoldPlaced,
    HoldWithdrawn,
    ItemChanged,
    ItemStatusSet,
    LoanClosed,
    LoanConditionSet,
    LoanLost,
    LoanOpened,
    LoanRated,
    LoanRenewed,
    MemberHutsChanged,
    MemberStatusChanged,
    NewLoan,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationAdded,
    ReservationClosed,
    ScanRecorded,
    SignInCodeIssued,
    StocktakeClosed,
    StocktakeOpened,
)
from server.domain.ledger_state import DoorKey, DoorState, EnrolmentStatus, ReservationStatus
from server.domain.model import MemberStatus
from server.domain.sign_in import Via
from server.storage import (
    access_changes,
    alarms,
    audit,
    enrolments,
    loan_ratings,
    remote_commands,
    resident_codes,
)
from server.storage.ingest_models import EnrolmentCandidate
from server.storage.models import (
    Anomaly,
    Card,
    ConsumableBatch,
    DoorSession,
    EnrolmentRequest,
    Item,
    ItemStatusChange,
    Loan,
    Member,
    MemberHut,
    NotificationRequest,
    Reservation,
    SessionScan,
    Stocktake,
    StocktakeLineRow,
)
from server.storage.row_updates import RowUpdates, params_of, update_of
from server.storage.staff_models import StaffUser
from server.storage.working_set import WorkingSet

_SCANS = cast(Table, SessionScan.__table__)
_INSERT_SCAN = insert(_SCANS)  # built once: a statement built anew computes its cache key anew


@dataclass(frozen=True, slots=True)
class _PendingScan:
    door: DoorSession
    seq: int
    at: datetime
    text: str
    tag: str | None
    action: str
    reason: str | None
    loan: Loan | None

    def row(self) -> dict[str, Any]:
        return {
            "door_session_id": self.door.id,
            "seq": self.seq,
            "at": self.at,
            "text": self.text[:256],
            "tag": self.tag,
            "action": self.action,
            "reason": self.reason,
            "loan_id": None if self.loan is None else self.loan.id,
        }


class EffectWriter:
    """Applies Effects to the database session ``db``; see the module docstring."""

    def __init__(self, db: Session, working: WorkingSet | None = None) -> None:
        self.db = db
        self.working = WorkingSet() if working is None else working
        self._scans: list[_PendingScan] = []
        self._new_loan: Loan | None = None  # the loan the effects being applied opened
        self._commands = 0  # applied so far: the first one writes its rows directly
        self._written: list[Any] = []  # what _write updated (held: the identity map is weak)
        self._inserted: list[Any] = []  # what _add inserted
        self._updates = RowUpdates(db)  # a batch's changes of loaded rows, written together

    def apply(self, effects: Effects) -> None:
        self._new_loan = None
        self._commands += 1
        for change in effects.changes:
            _WRITERS[type(change)](self, change)

    # Scans.

    def finish(self) -> None:
        """Write the held row updates and insert the buffered scans now (flushing first if
        a door session or loan has no id yet). Call before commit, and before reading scans
        in the transaction."""
        self._updates.write()
        pending, self._scans = self._scans, []
        if not pending:
            return
        if any(s.door.id is None or (s.loan is not None and s.loan.id is None) for s in pending):
            self.db.flush()
        rows = [scan.row() for scan in pending]
        # A lone event's one scan as a single execute: an executemany of one costs more.
        self.db.connection().execute(_INSERT_SCAN, rows[0] if len(rows) == 1 else rows)

    def discard(self) -> None:
        """Drop the buffered scans and row updates (their transaction or savepoint rolled
        back)."""
        self._scans = []
        self._updates.discard()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint for one command: on an exception its changes are gone (and raised)."""
        self.finish()  # what came before is not the savepoint's
        inserted = len(self._inserted)
        try:
            with self.db.begin_nested():
                yield
                self.finish()
        except BaseException:
            self.discard()
            self.working.clear()  # what the savepoint created is gone; what it loaded may be stale
            # Rows ``_write`` updated inside it hold values the database no longer has (the
            # session expires only the rows its own flushes changed): read them again.
            self.db.expire_all()
            for row in self._inserted[inserted:]:  # and rows _add inserted inside it are gone
                if row in self.db:
                    self.db.expunge(row)
            del self._inserted[inserted:]
            raise

    # Lookups.

    def door(self, ref: DoorKey) -> DoorSession:
        pair = (ref.hut_id, ref.key)
        door = self.working.doors.get(pair)
        if door is None:
            query = select(DoorSession).where(
                DoorSession.hut_id == ref.hut_id, DoorSession.key == ref.key
            )
            door = self.db.scalars(query).one()
            self.working.door_opened(door)
        return door

    def _loan(self, ref: int | NewLoan) -> Loan:
        if isinstance(ref, NewLoan):
            assert self._new_loan is not None, "a scan names a new loan the step did not open"
            return self._new_loan
        return self.working.loan(self.db, ref)

    def _get(self, model: type[Any], key: object) -> Any:
        # The rows a command names are nearly always loaded already: the identity map is
        # looked in first (Session.get does too, after much more work of its own). Its key
        # is (class, primary key tuple, identity token), as orm.util.identity_key builds it.
        row = self.db.identity_map.get((model, (key,), None))
        if row is not None:
            return row
        row = self.db.get(model, key)
        if row is None:
            raise LookupError(f"no {model.__name__} {key!r}")
        return row

    # Items and loans.

    def _write(self, row: Any, values: dict[str, Any]) -> None:
        """Set ``values`` (attribute: value, each a column of the row's own table) on
        ``row``. In a transaction's first command (a lone event's only one), a row in the
        database with nothing else waiting to flush gets one UPDATE of the values that
        differ, now, through the Connection, and they are set on it as committed: the
        ORM's flush of one row's update (history, unit of work) cost more than a lone
        borrow's other writes together. From the second command on, a row in the database
        that nothing else changed has its values held (``RowUpdates``: one executemany a
        shape, before anything reads), a new row takes them into what its INSERT carries,
        and any other row is left to the flush."""
        held = instance_dict(row)  # what the row holds, read without an attribute's descriptor
        changed = {
            name: v
            for name, v in values.items()
            if (held[name] if name in held else getattr(row, name)) != v  # else: expired, unset
        }
        if not changed:
            return
        state = instance_state(row)
        key = state.key  # (class, (id,), token), or None: not in the database yet
        if self._commands > 1:  # a batch's
            if key is None:
                # Not inserted yet (opened in this batch): its INSERT will carry what the row
                # holds, so there is no change to track (the attribute events were most of
                # what a door session's three changes in a visit cost).
                held.update(changed)
            elif state.modified or not state.persistent:  # the flush writes it all
                for name, value in changed.items():
                    setattr(row, name, value)
            else:  # held, and written with the batch's others of its shape
                self._updates.set(row, key[1][0], changed)
            return
        if key is None or not state.persistent or state.modified:
            for name, value in changed.items():
                setattr(row, name, value)
            return
        (row_id,) = key[1]
        statement = update_of(cast(Table, type(row).__table__), tuple(sorted(changed)))
        self.db.connection().execute(statement, params_of(row_id, changed))
        for name, value in changed.items():
            set_committed_value(row, name, value)
        self._written.append(row)

    def _add(self, row: Any) -> None:
        """Add the new ``row``. In a transaction's first command, one INSERT ... RETURNING
        now, through the Connection, and the row goes into the session as loaded (its id
        and defaults from RETURNING): no flush to wait for, and none for the scans that
        name it. From the second command on it is left to the flush (one executemany a
        batch), added without the save-update cascade ``Session.add`` walks: a row of
        ``_new_row`` names its item, member and hut by id, so there is nothing to cascade to,
        and walking a Loan's or DoorSession's relationships was most of what adding one
        cost."""
        if self._commands > 1:
            self.db._save_impl(instance_state(row))
            return
        mapper = inspect(type(row))
        given = {key: value for key, value in inspect(row).dict.items() if key in mapper.c}
        stored = self.db.connection().execute(_insert_of(mapper.local_table), given).one()
        for prop in mapper.column_attrs:
            setattr(row, prop.key, stored._mapping[prop.columns[0]])
        make_transient_to_detached(row)
        self.db.add(row)
        self._inserted.append(row)

    def _item_changed(self, change: ItemChanged) -> None:
        item: Item = self._get(Item, change.item_id)
        values: dict[str, Any] = {}
        if change.status is not None:
            values["status"] = change.status
        if change.condition is not None:
            values["condition"] = change.condition
        if change.hut_id is not None:
            values["hut_id"] = change.hut_id
        self._write(item, values)

    def _item_status_set(self, change: ItemStatusSet) -> None:
        item: Item = self._get(Item, change.item_id)
        self._write(item, {"status_reason": change.reason})
        self.db.add(
            ItemStatusChange(
                item_id=item.id,
                at=change.at,
                from_status=change.from_status.value,
                to_status=change.to_status.value,
                reason=change.reason,
                actor=change.by[:128],
            )
        )

    def _loan_opened(self, change: LoanOpened) -> None:
        item: Item = self._get(Item, change.item_id)
        # By ids, not relationships: item and member are in the database already, and
        # setting a relationship is most of the cost of a new row. renewals given (not
        # left to its server default), so no insert has to fetch it back.
        loan = _new_row(
            Loan,
            {
                "item_id": item.id,
                "member_id": change.member_id,
                "hut_id": change.hut_id,
                "borrowed_at": change.borrowed_at,
                "due_at": change.due_at,
                "renewals": 0,
            },
        )
        self._add(loan)
        self.working.loan_opened(loan, category=item.category)
        self._new_loan = loan

    def _loan_closed(self, change: LoanClosed) -> None:
        loan = self._loan(change.loan)
        condition = None if change.condition is None else change.condition.value
        self._write(
            loan,
            {"returned_at": change.at, "returned_hut_id": change.hut_id,
             "return_condition": condition},
        )  # fmt: skip
        self.working.loan_closed(loan, category=self._category(loan))

    def _loan_renewed(self, change: LoanRenewed) -> None:
        loan = self._loan(change.loan)
        self._write(loan, {"due_at": change.due_at, "renewals": change.renewals})
        self.working.loan_changed(loan)

    def _loan_lost(self, change: LoanLost) -> None:
        loan = self._loan(change.loan)
        self._write(loan, {"lost_at": change.at})
        self.working.loan_closed(loan, category=self._category(loan))

    def _category(self, loan: Loan) -> str:
        # Through the item's id: a loan opened in this transaction may not be flushed yet,
        # and a pending row's relationships are not loaded.
        item: Item = self._get(Item, loan.item_id)
        return item.category

    def _loan_condition(self, change: LoanConditionSet) -> None:
        self._write(self._loan(change.loan), {"return_condition": change.condition.value})

    def _loan_rated(self, change: LoanRated) -> None:
        loan = self._loan(change.loan)
        if loan.id is None:  # returned in this transaction, not flushed yet
            self.db.flush()
        loan_ratings.store(self.db, change, loan_id=loan.id)

    # Reservations and notices.

    def _hold_placed(self, change: HoldPlaced) -> None:
        hold: Reservation = self._get(Reservation, change.reservation_id)
        self._write(hold, {"state": ReservationStatus.HELD, "hold_until": change.hold_until})

    def _hold_withdrawn(self, change: HoldWithdrawn) -> None:
        hold: Reservation = self._get(Reservation, change.reservation_id)
        self._write(hold, {"state": ReservationStatus.WAITING, "hold_until": None})

    def _reservation_closed(self, change: ReservationClosed) -> None:
        reservation: Reservation = self._get(Reservation, change.reservation_id)
        self._write(reservation, {"state": change.state, "closed_at": change.at})

    def _reservation_added(self, change: ReservationAdded) -> None:
        item: Item = self._get(Item, change.item_id)
        reservation = Reservation(
            item=item,
            member_id=change.member_id,
            created_at=change.at,
            state=ReservationStatus.WAITING,
        )
        self.db.add(reservation)
        self.db.flush()
        self.working.reservations.pop(item.id, None)  # loaded again with the new one

    def _notice_queued(self, change: NoticeQueued) -> None:
        reservation = (
            None if change.reservation_id is None else self._get(Reservation, change.reservation_id)
        )
        self.db.add(
            NotificationRequest(
                kind=change.kind,
                member_id=change.member_id,
                item_id=change.item_id,
                hut_id=change.hut_id,
                reservation=reservation,
                text=change.text,
                created_at=change.at,
            )
        )

    def _notices_withdrawn(self, change: NoticesWithdrawn) -> None:
        unsent = select(NotificationRequest).where(
            NotificationRequest.reservation_id == change.reservation_id,
            NotificationRequest.sent_at.is_(None),
        )
        for request in self.db.scalars(unsent):
            self.db.delete(request)

    # Door sessions, stocktakes, anomalies, scans.

    def _door_opened(self, change: DoorOpened) -> None:
        state = change.door
        # The member by id only, as for loans: the relationship loads when read (after a flush).
        values = {"hut_id": state.hut_id, "key": state.key, "member_id": state.member_id}
        door = _new_row(DoorSession, {**values, **_door_columns(state)})
        self._add(door)
        self.working.door_opened(door)
        self.working.door_states[(state.hut_id, state.key)] = state

    def _door_changed(self, change: DoorChanged) -> None:
        state = change.door
        pair = (state.hut_id, state.key)
        door = self.door(state.ref)
        # What the row holds now: the state the rules last left it in, if the working set
        # has it (comparing those is cheaper than reading the row's attributes back).
        before = self.working.door_states.get(pair)
        member_id = door.member_id if before is None else before.member_id
        if state.member_id is not None and member_id != state.member_id:
            door.member = self._get(Member, state.member_id)
            # Set the column too: the next command may read it before anything flushes.
            door.member_id = state.member_id
        now = _door_values(state)  # the columns' values, read in one call each
        was = (None,) * len(_DOOR_COLUMNS) if before is None else _door_values(before)
        values: dict[str, Any] = {
            name: _column(value)
            for name, value, old in zip(_DOOR_COLUMNS, now, was, strict=True)
            if before is None or old != value
        }
        self._write(door, values)
        self.working.door_states[pair] = state

    def _stocktake_opened(self, change: StocktakeOpened) -> None:
        door = self.door(change.door)
        if door.id is None:
            self.db.flush()
        self.db.add(
            Stocktake(
                hut_id=door.hut_id,
                door_session_id=door.id,
                member_id=change.member_id,
                started_at=change.at,
            )
        )
        self.db.flush()

    def _stocktake_closed(self, change: StocktakeClosed) -> None:
        door = self.door(change.door)
        if door.id is None:
            self.db.flush()
        query = select(Stocktake).where(Stocktake.door_session_id == door.id)
        stocktake = self.db.scalars(query).one()
        for line in change.lines:
            self.db.add(
                StocktakeLineRow(
                    stocktake_id=stocktake.id,
                    tag=line.tag,
                    item_id=line.item_id,
                    result=line.result,
                    count=line.count,
                )
            )
        stocktake.closed_at = change.at
        self.db.flush()
        self.db.refresh(stocktake)

    def _anomaly(self, change: AnomalyRaised) -> None:
        self.db.add(
            Anomaly(
                hut_id=change.hut_id,
                kind=change.kind.value,
                item_id=change.item_id,
                member_id=change.member_id,
                door_session=None if change.door is None else self.door(change.door),
                detail=change.detail,
                created_at=change.at,
            )
        )

    def _alarm_raised(self, change: AlarmRaised) -> None:
        alarms.raise_alarm(self.db, change)

    def _alarm_cleared(self, change: AlarmCleared) -> None:
        alarms.clear_alarm(self.db, change)

    def _scan(self, change: ScanRecorded) -> None:
        self._scans.append(
            _PendingScan(
                door=self.door(change.door),
                seq=change.seq,
                at=change.at,
                text=change.text,
                tag=change.tag,
                action=change.action.value,
                reason=None if change.reason is None else change.reason.value,
                loan=None if change.loan is None else self._loan(change.loan),
            )
        )

    def _sign_in_code(self, change: SignInCodeIssued) -> None:
        resident_codes.store(
            self.db,
            code=change.code,
            member_id=change.member_id,
            via=Via.HUT.value,
            now=change.at,
            expires_at=change.expires_at,
            hut_id=change.hut_id,
        )

    # Enrolment reads, consumables, members and cards.

    def _enrolment(self, change: EnrolmentRead) -> None:
        self.db.add(
            EnrolmentCandidate(
                hut_id=change.hut_id,
                card_uid=change.card_uid,
                event_id=change.event_id,
                read_at=change.at,
                member_id=change.member_id,
            )
        )

    def _enrolment_closed(self, change: EnrolmentClosed) -> None:
        """The request answered; a card given through it is audited as the requesting
        staff member's write (the tap only carried out their request)."""
        request: EnrolmentRequest = self._get(EnrolmentRequest, change.request_id)
        enrolments.close(request, change.state, now=change.at)
        request.card_uid = change.card_uid
        if change.state is EnrolmentStatus.BOUND and change.new_card:
            user_id = self.db.scalar(
                select(StaffUser.id).where(StaffUser.username == change.requested_by)
            )
            audit.record(
                self.db,
                actor=Actor(change.requested_by, user_id=user_id),
                action="card.bind",
                # Under the member, as every card entry is: an erasure redacts the card.
                entity="member",
                entity_id=change.member_id,
                at=change.at,
                after={
                    "card": change.card_uid,
                    "hut_id": change.hut_id,
                    "enrolment_id": change.request_id,
                },
            )

    def _command_answered(self, change: CommandAnswered) -> None:
        remote_commands.record_outcome(
            self.db,
            command_id=change.command_id,
            outcome=change.outcome,
            at=change.at,
            detail=change.detail,
        )

    def _consumable_taken(self, change: ConsumableTaken) -> None:
        batch: ConsumableBatch = self._get(ConsumableBatch, change.batch_id)
        batch.quantity -= 1

    # Who may open the huts: each change is marked, so the commit republishes the lists.

    def _member_status(self, change: MemberStatusChanged) -> None:
        member: Member = self._get(Member, change.member_id)
        member.status = change.status
        member.status_reason = change.reason
        member.left_at = change.at if change.status is MemberStatus.LEFT else None
        # The record changed: an edit made on the version before is stale.
        member.version = Member.version + 1
        self.working.cards.clear()  # the member's cards' states name the status
        access_changes.mark(self.db)

    def _member_huts(self, change: MemberHutsChanged) -> None:
        member: Member = self._get(Member, change.member_id)
        # Kept rows stay (a row deleted and added again in one flush would clash).
        member.hut_rows = [row for row in member.hut_rows if row.hut_id in change.huts]
        kept = {row.hut_id for row in member.hut_rows}
        member.hut_rows.extend(MemberHut(hut_id=hut) for hut in sorted(change.huts - kept))
        access_changes.mark(self.db)

    def _card_added(self, change: CardAdded) -> None:
        member: Member = self._get(Member, change.member_id)
        # Inserted by the next flush (the next query autoflushes): an import's thousands of
        # cards go in together, not one flush each.
        self.db.add(Card(uid=change.uid, member=member, bound_at=change.bound_at))
        self.working.cards.pop(change.uid, None)
        access_changes.mark(self.db)

    def _card(self, uid: str) -> Card:
        card = self.db.scalars(select(Card).where(Card.uid == uid)).one()
        return card

    def _card_removed(self, change: CardRemoved) -> None:
        self.db.delete(self._card(change.uid))
        self.db.flush()
        self.working.cards.pop(change.uid, None)
        access_changes.mark(self.db)

    def _card_state(self, change: CardStateChanged) -> None:
        self._card(change.uid).state = change.state
        self.working.cards.pop(change.uid, None)
        access_changes.mark(self.db)


# The door session row's columns the rules change (the same names in DoorState).
_DOOR_COLUMNS = (
    "mode",
    "started_at",
    "card_uid",
    "door_opened_at",
    "closed_at",
    "scans",
    "flag",
    "pending_condition",
)
_door_values = operator.attrgetter(*_DOOR_COLUMNS)


@cache
def _insert_of(table: Any) -> Insert:
    """``INSERT INTO table ... RETURNING`` every column, built once a table."""
    return insert(table).returning(*table.columns)


def _column(value: object) -> object:
    """A state's value as its column holds it (enums as their text)."""
    return value.value if isinstance(value, Enum) else value


_Row = TypeVar("_Row")


@cache
def _column_keys(mapper: Any) -> frozenset[str]:
    return frozenset(prop.key for prop in mapper.column_attrs)


def _new_row(model: type[_Row], columns: dict[str, Any]) -> _Row:
    """A new (transient) ``model`` holding ``columns``, as ``model(**columns)`` makes it
    but without an attribute event for each column: the flush, or ``_add``'s INSERT,
    writes what the row holds, and later changes to it are tracked as usual. A batch
    opens a door session and a loan every five events, and the instrumented constructor
    was about half of what writing them cost."""
    mapper = inspect(model)
    assert columns.keys() <= _column_keys(mapper), "only the table's own columns"
    row = cast(_Row, mapper.class_manager.new_instance())
    instance_dict(row).update(columns)
    return row


def _door_columns(state: DoorState) -> dict[str, Any]:
    return {name: _column(getattr(state, name)) for name in _DOOR_COLUMNS}


_WRITERS: dict[type, Callable[[EffectWriter, Any], None]] = {
    ItemChanged: EffectWriter._item_changed,
    ItemStatusSet: EffectWriter._item_status_set,
    LoanOpened: EffectWriter._loan_opened,
    LoanClosed: EffectWriter._loan_closed,
    LoanRenewed: EffectWriter._loan_renewed,
    LoanLost: EffectWriter._loan_lost,
    LoanConditionSet: EffectWriter._loan_condition,
    LoanRated: EffectWriter._loan_rated,
    HoldPlaced: EffectWriter._hold_placed,
    HoldWithdrawn: EffectWriter._hold_withdrawn,
    ReservationClosed: EffectWriter._reservation_closed,
    ReservationAdded: EffectWriter._reservation_added,
    NoticeQueued: EffectWriter._notice_queued,
    NoticesWithdrawn: EffectWriter._notices_withdrawn,
    DoorOpened: EffectWriter._door_opened,
    DoorChanged: EffectWriter._door_changed,
    StocktakeOpened: EffectWriter._stocktake_opened,
    StocktakeClosed: EffectWriter._stocktake_closed,
    AnomalyRaised: EffectWriter._anomaly,
    ScanRecorded: EffectWriter._scan,
    EnrolmentRead: EffectWriter._enrolment,
    EnrolmentClosed: EffectWriter._enrolment_closed,
    CommandAnswered: EffectWriter._command_answered,
    ConsumableTaken: EffectWriter._consumable_taken,
    SignInCodeIssued: EffectWriter._sign_in_code,
    MemberStatusChanged: EffectWriter._member_status,
    MemberHutsChanged: EffectWriter._member_huts,
    CardAdded: EffectWriter._card_added,
    CardRemoved: EffectWriter._card_removed,
    CardStateChanged: EffectWriter._card_state,
    AlarmRaised: EffectWriter._alarm_raised,
    AlarmCleared: EffectWriter._alarm_cleared,
}


def _every_change_has_a_writer() -> None:
    missing = set(Change.__args__) - set(_WRITERS)
    assert not missing, f"changes without a writer: {missing}"


_every_change_has_a_writer()

__all__ = ["EffectWriter"]
