"""A console list's window: which rows of how many, and the links to the others."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int
    total: int

    @classmethod
    def of(cls, offset: int | None, limit: int | None, total: int) -> Page:
        limit = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
        offset = max(offset or 0, 0)
        return cls(offset=offset, limit=limit, total=total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def previous_offset(self) -> int:
        return max(self.offset - self.limit, 0)
