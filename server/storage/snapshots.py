"""The loader: what the rule book needs for each command, as a domain Snapshot.

One read path for every event: a single event is a batch of one. ``preload`` reads the
cards, items, open loans, reservations and door sessions a batch names in a few queries
(after the huts' watermark rows are locked, so no other worker changes these huts'
sessions meanwhile); a lookup the preload did not cover (a batch of one, an event held
from an earlier batch) queries and remembers. What it remembers lives in the WorkingSet
it shares with the effect writer (see storage/working_set.py for why it stays true).

Scans wait in the writer until it writes them; the loader holds the writer and has it
write them before it reads any (a condition card's last return, a stocktake's counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import DEFAULT_POLICY, ItemCondition, LoanPolicy, SessionMode
from server.domain.commands import (
    AlarmReport,
    CardTap,
    CommandReport,
    ControllerReport,
    DoorChange,
    EnrolRead,
    Scan,
)
from server.domain.labels import (
    about_last_return,
    is_sign_in_card,
    parse_scan_text,
)
from server.domain.ledger_state import (
    ACTIVE_RESERVATION,
    BatchState,
    CardState,
    ConsumableState,
    DoorState,
    HutState,
    ItemState,
    LoanState,
    MemberState,
    ReservationState,
    ReservationStatus,
    ReturnedLoan,
    Shelf,
    SignInOffer,
    Snapshot,
)
from server.storage import consumables, enrolments, remote_commands, resident_codes
from server.storage import loader_statements as q
from server.storage.door_sessions import ON_SHELF, stocktake_of
from server.storage.effect_writer import EffectWriter
from server.storage.models import (
    Card,
    DoorSession,
    Hut,
    Item,
    Loan,
    Member,
    Reservation,
    SessionScan,
)
from server.storage.working_set import WorkingSet


@dataclass(frozen=True, slots=True)
class BatchKeys:
    """What a batch's commands name: card uids (upper case), item tags, (hut, door key)."""

    cards: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    doors: set[tuple[str, str]] = field(default_factory=set)


def keys_of(
    *, cards: Iterable[str | None], tags: Iterable[str | None], doors: Iterable[tuple[str, str]]
) -> BatchKeys:
    return BatchKeys(
        cards={uid.upper() for uid in cards if uid},
        tags={tag for tag in tags if tag},
        doors=set(doors),
    )


class Snapshots:
    """Snapshots for the commands of one transaction; see the module docstring."""

    def __init__(
        self,
        db: Session,
        writer: EffectWriter,
        sign_in: resident_codes.SignInCodes = resident_codes.DISPLAY_CODES,
    ) -> None:
        self.db = db
        self.writer = writer
        self.sign_in = sign_in
        self.working: WorkingSet = writer.working
        self._huts: dict[str, HutState] = {}  # ingest never changes a hut

    def snapshot(
        self,
        command: object,
        *,
        hut: Hut,
        now: datetime,
        policy: LoanPolicy = DEFAULT_POLICY,
        heard_at: datetime | None = None,
    ) -> Snapshot:
        """What the rules need to decide ``command`` at ``hut`` at ``now`` (``heard_at``:
        when the server heard of it; a display's sign-in code lasts from then)."""
        state = self._huts.get(hut.id)
        if state is None:
            state = self._huts[hut.id] = HutState(hut.id, hut.timezone)
        if isinstance(command, Scan):
            return self._scan(command, hut=state, now=now, policy=policy, heard_at=heard_at)
        if isinstance(command, CardTap):
            card = self.card(command.card_uid)
            door = None if command.door_key is None else self._door(hut.id, command.door_key)
            return Snapshot(state, now, card=card, door=door)
        if isinstance(command, DoorChange):
            return self._door_change(command, hut=state, now=now)
        if isinstance(command, AlarmReport | ControllerReport):
            # An alarm needs the hut and the time, nothing of items or members.
            return Snapshot(state, now)
        if isinstance(command, EnrolRead):
            # Enrol reads are rare (staff at the hut): the hut's request is read each time,
            # so a second tap in the batch sees the first one's answer (autoflush).
            card = self.card(command.card_uid)
            return Snapshot(state, now, card=card, enrolment=enrolments.waiting_at(self.db, hut.id))
        if isinstance(command, CommandReport):
            return self._command_report(command, hut=state, now=now)
        raise TypeError(f"no snapshot for {type(command).__name__}")

    def _door_change(self, command: DoorChange, *, hut: HutState, now: datetime) -> Snapshot:
        door = None if command.door_key is None else self._door(hut.id, command.door_key)
        if door is None or command.opened or not door.has_stocktake or door.stocktake_closed:
            return Snapshot(hut, now, door=door)
        counted = self.counted_tags(door)
        expected = {
            item.tag: item.id
            for item in self.db.scalars(
                select(Item).where(Item.hut_id == hut.id, Item.status.in_(ON_SHELF))
            )
        }
        unexpected = set(counted) - set(expected)
        others = {
            item.tag: item.id
            for item in self.db.scalars(select(Item).where(Item.tag.in_(unexpected)))
        }
        return Snapshot(hut, now, door=door, counted=counted, shelf=Shelf(expected, others))

    def _command_report(self, command: CommandReport, *, hut: HutState, now: datetime) -> Snapshot:
        """The command (one row by its key); for an unlock carried out for a member, the
        door session it opened and that member. Nothing else: reports are cheap."""
        remote = remote_commands.state_of(self.db, command.command_id)
        if remote is None or remote.member_id is None or command.door_key is None:
            return Snapshot(hut, now, remote_command=remote)
        door = self._door(hut.id, command.door_key)
        member = self._member(remote.member_id)
        return Snapshot(hut, now, door=door, remote_command=remote, opened_for=member)

    def _scan(
        self,
        command: Scan,
        *,
        hut: HutState,
        now: datetime,
        policy: LoanPolicy,
        heard_at: datetime | None = None,
    ) -> Snapshot:
        card = None if command.card_uid is None else self.card(command.card_uid)
        door = None if command.door_key is None else self._door(hut.id, command.door_key)
        opened_for = self._opened_for(door) if command.card_uid is None else None
        member = opened_for if card is None else card.member
        if is_sign_in_card(command.text):
            return self._sign_in(hut=hut, now=now, heard_at=heard_at, card=card, door=door)
        # A lending door session a staff card joins now turns stocktake in the rules: it
        # has no stocktake and no counts yet, and the item is loaded below either way.
        tag = parse_scan_text(command.text)
        stocktake = door is not None and door.mode is SessionMode.STOCKTAKE
        if not stocktake and about_last_return(command.text):
            returned = None if door is None else self._last_return(door)
            return Snapshot(
                hut, now, policy, card=card, door=door, returned=returned, opened_for=opened_for
            )
        if tag is not None:
            self._look_up(tag, None if member is None else member.id)
        item = None if tag is None else self.item(tag)
        if stocktake:
            assert door is not None
            counted = self.counted_tags(door)
            return Snapshot(
                hut, now, policy, card=card, door=door, item=item, counted=counted,
                opened_for=opened_for,
            )  # fmt: skip
        if item is None:
            consumable = None if tag is None else self._consumable(tag)
            return Snapshot(
                hut, now, policy, card=card, door=door, consumable=consumable,
                opened_for=opened_for,
            )  # fmt: skip
        loan = self._open_loan(item)
        # Only a borrow (no open loan) asks how many of the category the member has out.
        in_category = 0
        if member is not None and loan is None:
            in_category = self._open_loans_in(member.id, item.category)
        return Snapshot(
            hut,
            now,
            policy,
            card=card,
            door=door,
            item=item,
            loan=loan,
            queue=self._queue(item.id),
            in_category=in_category,
            opened_for=opened_for,
        )

    def _sign_in(
        self,
        *,
        hut: HutState,
        now: datetime,
        heard_at: datetime | None,
        card: CardState | None,
        door: DoorState | None,
    ) -> Snapshot:
        """The phone sign-in card: a fresh code drawn here (the rules draw nothing), only
        where the rules can give it (a door session a member's card opened)."""
        offer = None
        if card is not None and door is not None:
            code = resident_codes.fresh(self.db, now, self.sign_in.draw)
            offer = SignInOffer(code, self.sign_in.minutes, shown_from=heard_at or now)
        return Snapshot(hut, now, card=card, door=door, sign_in=offer)

    # Cards and members.

    def card(self, uid: str) -> CardState | None:
        uid = uid.upper()
        cards = self.working.cards
        if uid not in cards:
            # With its member and the member's flags: one statement, not lazy loads.
            rows = self.db.execute(q.CARD, {"uid": uid}).all()
            cards[uid] = self._card_states(rows).get(uid)
        return cards[uid]

    def _card_states(self, rows: Sequence[Any]) -> dict[str, CardState]:
        """The cards of ``rows`` (loader_statements.CARD's); their members with no display
        line waiting are remembered as such."""
        self.working.no_display.update(row.id for row in rows if not row.has_line)
        return card_states(rows)

    def _member(self, member_id: int) -> MemberState | None:
        member = self.db.get(Member, member_id)
        return None if member is None else member_state(member)

    def _opened_for(self, door: DoorState | None) -> MemberState | None:
        """The member a door session staff unlocked remotely is for: it has a member and
        no card (a card's session names its card)."""
        if door is None or door.member_id is None or door.card_uid is not None:
            return None
        return self._member(door.member_id)

    def may_have_display_line(self, member_id: int) -> bool:
        return member_id not in self.working.no_display

    # Items, loans, reservations.

    def item(self, tag: str) -> ItemState | None:
        items = self.working.items
        if tag not in items:
            items[tag] = q.rows(self.db, q.ITEM, tag=tag).one_or_none()
        item = items[tag]
        return None if item is None else item_state(item)

    def _look_up(self, tag: str, member_id: int | None) -> None:
        """What a scan reads of the item of ``tag``, if nothing of it is known yet: the
        item, its open loan, whether anyone waits for it and how many of its category
        the scanning member has out, in one statement (four otherwise); the waiting
        list's rows are read only when there is one. What the working set knows already
        (changed in this transaction) stays."""
        working = self.working
        if tag in working.items:
            return
        params = {"tag": tag, "member_id": member_id}
        found = self.db.execute(q.ITEM_AT_HAND, params).one_or_none()
        if found is None:
            working.items[tag] = None
            return
        item, loan, waiting, in_category = found
        working.items[tag] = item
        working.open_loans.setdefault(item.id, loan)
        if not waiting:
            working.reservations.setdefault(item.id, [])
        if member_id is not None and not working.knows_count((member_id, item.category)):
            working.counts[(member_id, item.category)] = int(in_category)

    def _open_loan(self, item: ItemState) -> LoanState | None:
        loans = self.working.open_loans
        if item.id not in loans:
            loans[item.id] = q.rows(self.db, q.OPEN_LOAN, item_id=item.id).one_or_none()
        loan = loans[item.id]
        if loan is None:
            return None
        state = self.working.loan_states.get(item.id)
        if state is None:
            state = self.working.loan_states[item.id] = self._loan_state(loan)
        return state

    def _loan_state(self, loan: Loan) -> LoanState:
        return LoanState(
            self.working.loan_ref(loan),
            loan.item_id,
            loan.member_id,
            loan.borrowed_at,
            loan.due_at,
            renewals=loan.renewals,
        )

    def _open_loans_in(self, member_id: int, category: str) -> int:
        key = (member_id, category)
        working = self.working
        if not working.knows_count(key):
            found = self.db.scalar(q.IN_CATEGORY, {"member_id": member_id, "category": category})
            working.counts[key] = int(found or 0)
        return working.counts[key]

    def _queue(self, item_id: int) -> tuple[ReservationState, ...]:
        line = self.working.reservations.get(item_id)
        if line is None:
            line = self.working.reservations[item_id] = list(
                q.rows(self.db, q.QUEUE, item_id=item_id)
            )
        return queue_of(line)

    def _consumable(self, tag: str) -> ConsumableState | None:
        found = consumables.find(self.db, tag)
        if found is None:
            return None
        batches = tuple(BatchState(b.id, b.quantity, b.expires_on) for b in found.batches)
        return ConsumableState(found.id, found.tag, found.name_zh, batches)

    # Door sessions and their scans.

    def _door(self, hut_id: str, key: str) -> DoorState | None:
        pair = (hut_id, key)
        doors = self.working.doors
        if pair not in doors:
            doors[pair] = q.rows(self.db, q.DOOR, hut_id=hut_id, key=key).one_or_none()
        door = doors[pair]
        if door is None:
            return None
        state = self.working.door_states.get(pair)
        if state is None:
            state = self.working.door_states[pair] = self._door_state(door)
        return state

    def _door_state(self, door: DoorSession) -> DoorState:
        state = DoorState(
            door.hut_id,
            door.key,
            SessionMode(door.mode),
            door.started_at,
            member_id=door.member_id,
            card_uid=door.card_uid,
            door_opened_at=door.door_opened_at,
            closed_at=door.closed_at,
            scans=door.scans,
            flag=door.flag,
            pending_condition=(
                None if door.pending_condition is None else ItemCondition(door.pending_condition)
            ),
        )
        return self._with_stocktake(state) if state.mode is SessionMode.STOCKTAKE else state

    def _with_stocktake(self, door: DoorState) -> DoorState:
        """The door with its stocktake's state (staff door sessions only)."""
        row = self._row(door)
        stocktake = stocktake_of(self.db, row.id)
        if stocktake is None:
            return door
        return replace(door, has_stocktake=True, stocktake_closed=stocktake.closed_at is not None)

    def _row(self, door: DoorState) -> DoorSession:
        row = self.working.doors[(door.hut_id, door.key)]
        assert row is not None
        if row.id is None:
            self.db.flush()
        return row

    def counted_tags(self, door: DoorState) -> Counter[str]:
        self.writer.finish()  # the buffered scans first
        query = select(SessionScan.tag).where(
            SessionScan.door_session_id == self._row(door).id,
            SessionScan.action == "count",
            SessionScan.tag.is_not(None),
        )
        return Counter(tag for tag in self.db.scalars(query) if tag is not None)

    def _last_return(self, door: DoorState) -> ReturnedLoan | None:
        self.writer.finish()  # the buffered scans first
        query = (
            select(SessionScan.loan_id)
            .where(
                SessionScan.door_session_id == self._row(door).id,
                SessionScan.action == "return",
                SessionScan.loan_id.is_not(None),
            )
            .order_by(SessionScan.seq.desc())
        )
        loan_id = self.db.scalars(query).first()
        loan = None if loan_id is None else self.db.get(Loan, loan_id)
        if loan is None:
            return None
        item = item_state(loan.item)
        return ReturnedLoan(self._loan_state(loan), item, self._queue(item.id))

    # The batch's keys at once.

    def preload(self, keys: BatchKeys) -> None:
        if keys.cards:
            self._preload_cards(keys.cards)
        if keys.tags:
            self._preload_items(keys.tags)
        if keys.doors:
            pairs = sorted(keys.doors)
            found = {(d.hut_id, d.key): d for d in q.doors(self.db, pairs)}
            for pair in pairs:
                self.working.doors[pair] = found.get(pair)

    def _preload_cards(self, uids: set[str]) -> None:
        db, working = self.db, self.working
        found = self._card_states(db.execute(q.CARDS, {"uids": sorted(uids)}).all())
        for uid in uids:
            working.cards[uid] = found.get(uid)
        members = {card.member.id for card in found.values()}
        if not members:
            return
        by_category = db.execute(q.BY_CATEGORY, {"member_ids": sorted(members)})
        for member_id, category, n in by_category:
            working.counts[(member_id, category)] = int(n)
        working.counted |= members

    def _preload_items(self, tags: set[str]) -> None:
        db, working = self.db, self.working
        items = {item.tag: item for item in q.rows(db, q.ITEMS, tags=sorted(tags))}
        for tag in tags:
            working.items[tag] = items.get(tag)
        ids = sorted(item.id for item in items.values())
        if not ids:
            return
        loans = {loan.item_id: loan for loan in q.rows(db, q.OPEN_LOANS, item_ids=ids)}
        queues: dict[int, list[Reservation]] = {item_id: [] for item_id in ids}
        for reservation in q.rows(db, q.QUEUES, item_ids=ids):
            queues[reservation.item_id].append(reservation)
        for item_id in ids:
            working.open_loans[item_id] = loans.get(item_id)
            working.reservations.setdefault(item_id, queues[item_id])


def card_state(card: Card | None) -> CardState | None:
    return None if card is None else CardState(card.uid, card.state, member_state(card.member))


def card_states(rows: Iterable[Any]) -> dict[str, CardState]:
    """Each card of ``rows`` (loader_statements.CARD's: one a flag of its member) by uid."""
    first: dict[str, Any] = {}
    flags: dict[str, set[str]] = {}
    for row in rows:
        first.setdefault(row[0], row)
        if row.flag is not None:
            flags.setdefault(row[0], set()).add(row.flag)
    return {
        uid: CardState(uid, state, MemberState(member, name, status, frozenset(flags.get(uid, ()))))
        for uid, (_, state, member, name, status, *_) in first.items()
    }


def member_state(member: Member) -> MemberState:
    return MemberState(member.id, member.name, member.status, member.flags)


def item_state(item: Item) -> ItemState:
    return ItemState(
        item.id,
        item.tag,
        item.name_zh,
        item.category,
        item.status,
        item.condition,
        item.hut_id,
        loan_days=item.loan_days,
        max_renewals=item.max_renewals,
    )


def queue_of(rows: Iterable[Reservation]) -> tuple[ReservationState, ...]:
    """The rows still in line (as they stand now), first in line first."""
    line = [
        ReservationState(
            r.id,
            r.item_id,
            r.member_id,
            ReservationStatus(r.state),
            r.created_at,
            r.hold_until,
            flags=frozenset(row.flag for row in r.member_flag_rows),
        )
        for r in rows
        if r.state in ACTIVE_RESERVATION
    ]
    line.sort(key=lambda r: (r.created_at, r.id))
    return tuple(line)


__all__ = [
    "BatchKeys",
    "Snapshots",
    "card_state",
    "card_states",
    "item_state",
    "keys_of",
    "member_state",
    "queue_of",
]
