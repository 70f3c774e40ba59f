"""Staff roles, each allowed what the one below it is, and more."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything staff see, changes nothing
    STAFF = "staff"  # records, loans, hut operations
    ADMIN = "admin"  # users, settings, the audit log, personal-data export and erasure

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True if this role may do what ``needed`` may."""
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.STAFF: 1, Role.ADMIN: 2}
