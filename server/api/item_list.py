"""The inventory list's order, shared by GET /api/v1/items and the console's inventory
page: a column of records.items.SORTS, or ``due`` (when the open loan is due)."""

from __future__ import annotations

from sqlalchemy import Select, and_
from sqlalchemy.orm import aliased

from server.api.listing import sorted_by
from server.records.items import SORTS
from server.storage.models import Item, Loan

SORT_KEYS = (*SORTS, "due")


def sorted_items(query: Select[Item], sort: str | None) -> Select[Item]:
    """``query`` in the order asked (``-`` for descending; by tag by default; 422 for a
    column it does not know). By due date: the items on loan first on both databases
    (SQLite and PostgreSQL put NULLs at opposite ends), then by tag."""
    if sort is not None and sort.removeprefix("-") == "due":
        # Joined, not a subquery per row: an item has at most one open loan (a unique
        # index says so), so the join adds no row.
        loan = aliased(Loan)
        is_open = and_(loan.item_id == Item.id, loan.returned_at.is_(None), loan.lost_at.is_(None))
        due = loan.due_at.desc() if sort.startswith("-") else loan.due_at.asc()
        return query.outerjoin(loan, is_open).order_by(loan.due_at.is_(None), due, Item.tag)
    return sorted_by(query, sort, SORTS, default="tag")
