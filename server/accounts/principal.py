"""The signed-in staff member a request acts for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.actors import Actor
from server.domain.roles import Role
from server.storage.staff_models import StaffUser


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

    @classmethod
    def of(cls, user: StaffUser, *, via: Via, credential_id: int) -> Principal:
        """``user`` signed in by a session or a token (row ``credential_id``). A password
        to change holds either: a reset must stop whoever knew the old one."""
        return cls(
            user_id=user.id,
            username=user.username,
            role=user.role,
            via=via,
            must_change_password=user.must_change_password,
            credential_id=credential_id,
        )

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)

    def actor(self, address: str | None = None) -> Actor:
        return Actor(self.username, user_id=self.user_id, address=address)
