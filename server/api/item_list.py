"""The inventory list's order, shared by GET /api/v1/items and the console's inventory
page: a column of records.items.SORTS, or ``due`` (when the open loan is due)."""

from __future__ import annotations

from sqlalchemy import Select

from server.api.listing import sorted_by
from server.records.items import DUE, SORTS
from server.storage.models import Item

SORT_KEYS = (*SORTS, "due")


def sorted_items(query: Select[Item], sort: str | None) -> Select[Item]:
    """``query`` in the order asked (``-`` for descending; by tag by default; 422 for a
    column it does not know). By due date: the items on loan first on both databases
    (SQLite and PostgreSQL put NULLs at opposite ends), then by tag."""
    if sort is not None and sort.removeprefix("-") == "due":
        due = DUE.desc() if sort.startswith("-") else DUE.asc()
        return query.order_by(DUE.is_(None), due, Item.tag)
    return sorted_by(query, sort, SORTS, default="tag")
