"""The signed-in staff member a request acts for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.actors import Actor
from server.domain.roles import Role


class Via(StrEnum):
    SESSION = "session"  # the console's cookie
    TOKEN = "token"  # a personal API token (Authorization: Bearer)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    role: Role
    via: Via
    must_change_password: bool = False
    # The StaffSession's or ApiToken's row id.
    credential_id: int | None = None

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)

    def actor(self, address: str | None = None) -> Actor:
        return Actor(self.username, user_id=self.user_id, address=address)
