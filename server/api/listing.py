"""Lists that filter, sort and paginate, the same way on every route.

``?limit=50&offset=0&sort=-name``: ``sort`` is one of the route's columns, ``-`` for
descending; an unknown one is a 422 naming ``sort`` and the columns allowed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from toolhut.i18n import bilingual

T = TypeVar("T")
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    offset: int
    sort: str | None


def _page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="rows to skip")] = 0,
    sort: Annotated[
        str | None,
        Query(max_length=64, pattern=r"^-?[a-z_]+$", description="column; -column: descending"),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset, sort=sort)


PageDep = Annotated[PageRequest, Depends(_page)]


class Listing(BaseModel, Generic[T]):
    """One page: ``count`` rows here, ``total`` matching the filters."""

    data: list[T]
    count: int
    total: int
    limit: int
    offset: int


def sorted_by(
    query: Select[Any], sort: str | None, columns: Mapping[str, Any], *, default: str
) -> Select[Any]:
    """``query`` ordered by the requested column (then by ``default``, so pages are
    stable); 422 for a column not in ``columns``."""
    wanted = sort or default
    name = wanted.removeprefix("-")
    if name not in columns:
        allowed = ", ".join(sorted(columns))
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "sort"),
                    "msg": bilingual("cannot sort by {name!r}: one of {allowed}").format(
                        name=name, allowed=allowed
                    ),
                    "input": sort,
                }
            ]
        )
    column = columns[name]
    tie = columns[default.removeprefix("-")]
    first = column.desc() if wanted.startswith("-") else column.asc()
    return query.order_by(first, tie) if column is not tie else query.order_by(first)


def page_of(db: Session, query: Select[Any], page: PageRequest) -> tuple[list[Any], int]:
    """The page's rows (scalars when the query selects one entity) and the total."""
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(db.scalars(query.limit(page.limit).offset(page.offset)))
    return rows, total


def listing(data: list[T], total: int, page: PageRequest) -> Listing[T]:
    return Listing[T](data=data, count=len(data), total=total, limit=page.limit, offset=page.offset)
