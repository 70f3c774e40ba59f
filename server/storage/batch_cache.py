"""What one ingest batch looks up again and again, loaded in a few queries.

The uncached path (``queries.find_card``, ``queries.find_item``, ``door_sessions.find``,
``reservations.current_hold`` ...) costs a statement or two per event; a batch of a few
hundred events touches a handful of cards, items and door sessions. ``BatchCache.preload``
reads them for the whole batch at once (after the huts' watermark rows are locked, so no
other worker changes these huts' sessions meanwhile); a lookup the preload did not cover
(an event held from an earlier batch) queries and remembers.

What it may remember, and why that stays true within the transaction:

- cards (with their member): ingest never adds, moves or deletes a card;
- items by tag: ingest never adds an item or changes a tag;
- the open loan of an item: ingest opens and closes loans only through ``hut_events``,
  which tells the cache (``loan_opened``/``loan_closed``);
- open loans per member and category: the same two hooks keep the counts;
- door sessions by (hut, key): created only by ``door_sessions.get_or_open``, which tells it;
- items without any waiting or held reservation, and members without a pending display
  line: ingest never adds either. They are a snapshot taken at the start of the batch (or
  at an item's first lookup), as if the batch had run a moment earlier than a reservation
  or reminder committed by another process meanwhile.

After a rolled-back savepoint (a held event that failed) ``clear`` drops everything:
objects created inside it are gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session, joinedload, selectinload

from server.storage.models import Card, DoorSession, Item, Loan, Reservation
from server.storage.queries import ItemOnShelf, open_loans_query
from server.storage.reminder_models import DisplayMessage

# Reservation states that make an item's return or borrow look at the waiting list.
_ACTIVE_RESERVATION = ("waiting", "held")


@dataclass(frozen=True, slots=True)
class BatchKeys:
    """What the batch's events name: card uids (upper case), item tags, (hut, session key)."""

    cards: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    doors: set[tuple[str, str]] = field(default_factory=set)


class BatchCache:
    """Lookups of one transaction's ingest work; see the module docstring."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clear()

    def clear(self) -> None:
        self._cards: dict[str, Card | None] = {}
        self._items: dict[str, Item | None] = {}
        self._open_loans: dict[int, Loan | None] = {}  # by item id
        self._counts: dict[tuple[int, str], int] = {}  # open loans by (member id, category)
        self._counted: set[int] = set()  # members whose every category is in _counts
        self._doors: dict[tuple[str, str], DoorSession | None] = {}
        self._unreserved: set[int] = set()  # item ids with no waiting or held reservation
        self._reserved: set[int] = set()  # item ids with some (the reservation queries run)
        self._no_display: set[int] = set()  # member ids with no pending display line

    def preload(self, keys: BatchKeys) -> None:
        session = self.session
        if keys.cards:
            query = (
                select(Card)
                .where(Card.uid.in_(sorted(keys.cards)))
                .options(selectinload(Card.member))
            )
            found = {card.uid: card for card in session.scalars(query)}
            for uid in keys.cards:
                self._cards[uid] = found.get(uid)
            members = {card.member_id for card in found.values()}
            if members:
                self._count_open_loans(members)
                shown = select(DisplayMessage.member_id).where(
                    DisplayMessage.member_id.in_(sorted(members)),
                    DisplayMessage.shown_at.is_(None),
                )
                self._no_display |= members - set(session.scalars(shown))
        if keys.tags:
            items = {
                item.tag: item
                for item in session.scalars(select(Item).where(Item.tag.in_(sorted(keys.tags))))
            }
            for tag in keys.tags:
                self._items[tag] = items.get(tag)
            ids = sorted(item.id for item in items.values())
            if ids:
                loans = {
                    loan.item_id: loan
                    for loan in session.scalars(open_loans_query().where(Loan.item_id.in_(ids)))
                }
                for item_id in ids:
                    self._open_loans[item_id] = loans.get(item_id)
                waiting = select(Reservation.item_id).where(
                    Reservation.item_id.in_(ids), Reservation.state.in_(_ACTIVE_RESERVATION)
                )
                reserved = set(session.scalars(waiting))
                self._reserved |= reserved
                self._unreserved |= set(ids) - reserved
        if keys.doors:
            pairs = sorted(keys.doors)
            doors = select(DoorSession).where(
                tuple_(DoorSession.hut_id, DoorSession.key).in_(pairs)
            )
            found_doors = {(door.hut_id, door.key): door for door in session.scalars(doors)}
            for pair in pairs:
                self._doors[pair] = found_doors.get(pair)

    def _count_open_loans(self, members: set[int]) -> None:
        query = (
            select(Loan.member_id, Item.category, func.count())
            .join(Loan.item)
            .where(
                Loan.member_id.in_(sorted(members)),
                Loan.returned_at.is_(None),
                Loan.lost_at.is_(None),
            )
            .group_by(Loan.member_id, Item.category)
        )
        for member_id, category, count in self.session.execute(query):
            self._counts[(member_id, category)] = int(count)
        self._counted |= members

    # Cards.

    def card(self, uid: str) -> Card | None:
        uid = uid.upper()
        if uid not in self._cards:
            # The member with it (a lazy load would be a second round of ORM work).
            query = select(Card).where(Card.uid == uid).options(joinedload(Card.member))
            self._cards[uid] = self.session.scalars(query).one_or_none()
        return self._cards[uid]

    def may_have_display_line(self, member_id: int) -> bool:
        return member_id not in self._no_display

    # Items and loans.

    def item(self, tag: str) -> ItemOnShelf | None:
        if tag not in self._items:
            query = select(Item).where(Item.tag == tag)
            self._items[tag] = self.session.scalars(query).one_or_none()
        item = self._items[tag]
        if item is None:
            return None
        if item.id not in self._open_loans:
            loan = open_loans_query().where(Loan.item_id == item.id)
            self._open_loans[item.id] = self.session.scalars(loan).one_or_none()
        return ItemOnShelf(item, self._open_loans[item.id])

    def open_loans_in(self, *, member_id: int, category: str) -> int:
        key = (member_id, category)
        if not self._knows(key):
            query = (
                select(func.count())
                .select_from(Loan)
                .join(Loan.item)
                .where(
                    Loan.member_id == member_id,
                    Loan.returned_at.is_(None),
                    Loan.lost_at.is_(None),
                    Item.category == category,
                )
            )
            self._counts[key] = int(self.session.scalar(query) or 0)
        return self._counts[key]

    def _knows(self, key: tuple[int, str]) -> bool:
        if key not in self._counts and key[0] in self._counted:
            self._counts[key] = 0  # the preload found none of the member's in this category
        return key in self._counts

    def loan_opened(self, loan: Loan) -> None:
        self._open_loans[loan.item.id] = loan
        key = (loan.member.id, loan.item.category)
        if self._knows(key):
            self._counts[key] += 1

    def loan_closed(self, loan: Loan) -> None:
        self._open_loans[loan.item.id] = None
        key = (loan.member.id, loan.item.category)
        if self._knows(key):
            self._counts[key] -= 1

    def has_no_reservations(self, item_id: int) -> bool:
        """True if the item has nobody waiting and no hold: one query the first time, in
        place of the reservation queries of each borrow or return."""
        if item_id not in self._unreserved and item_id not in self._reserved:
            waiting = select(Reservation.id).where(
                Reservation.item_id == item_id, Reservation.state.in_(_ACTIVE_RESERVATION)
            )
            found = self.session.scalars(waiting.limit(1)).first() is not None
            (self._reserved if found else self._unreserved).add(item_id)
        return item_id in self._unreserved

    # Door sessions.

    def door(self, hut_id: str, key: str) -> DoorSession | None:
        pair = (hut_id, key)
        if pair not in self._doors:
            query = select(DoorSession).where(DoorSession.hut_id == hut_id, DoorSession.key == key)
            self._doors[pair] = self.session.scalars(query).one_or_none()
        return self._doors[pair]

    def door_opened(self, door: DoorSession) -> None:
        self._doors[(door.hut_id, door.key)] = door


def keys_of(
    *, cards: Iterable[str | None], tags: Iterable[str | None], doors: Iterable[tuple[str, str]]
) -> BatchKeys:
    return BatchKeys(
        cards={uid.upper() for uid in cards if uid},
        tags={tag for tag in tags if tag},
        doors=set(doors),
    )


__all__ = ["BatchCache", "BatchKeys", "keys_of"]
