"""Who did something, as the audit log names them."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """``user_id`` is the staff account's (None for the command line and the server
    itself); ``name`` is what the audit log shows: the username, ``cli:<os user>`` or
    ``system``; ``address`` the client's address for a request."""

    name: str
    user_id: int | None = None
    address: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """Whoever runs the command line on the server's machine."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(f"cli:{user}")


SYSTEM = Actor("system")
