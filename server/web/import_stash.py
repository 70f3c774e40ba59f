"""The files the import page has checked and not yet imported: kept in this process's
memory between "check" and "import these", for the staff member who uploaded it, for a
few minutes, never on disk (a members file is personal data).

A browser cannot send a file back without choosing it again, so the page keeps it here.
Behind several server processes, "import these" may reach a process that does not hold
the file: the page then asks for the upload again (nothing is written either way)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

KEEP_FOR = timedelta(minutes=15)
MAX_FILES = 20  # the oldest go first: a process never holds more than this many uploads


@dataclass(frozen=True, slots=True)
class Checked:
    user_id: int
    kind: str
    filename: str
    data: bytes
    until: datetime


class ImportStash:
    def __init__(self) -> None:
        self._files: dict[str, Checked] = {}
        self._lock = threading.Lock()

    def keep(self, *, user_id: int, kind: str, filename: str, data: bytes, now: datetime) -> str:
        """Keeps a checked file; the token its "import these" form carries."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._drop_expired(now)
            while len(self._files) >= MAX_FILES:
                self._files.pop(next(iter(self._files)))
            self._files[token] = Checked(user_id, kind, filename, data, now + KEEP_FOR)
        return token

    def take(self, token: str, *, user_id: int, now: datetime) -> Checked | None:
        """The file of ``token``, if it is this user's and still kept; taken out (a form
        posted twice imports once)."""
        with self._lock:
            self._drop_expired(now)
            found = self._files.get(token)
            if found is None or found.user_id != user_id:
                return None
            return self._files.pop(token)

    def _drop_expired(self, now: datetime) -> None:
        for token in [t for t, f in self._files.items() if f.until <= now]:
            del self._files[token]
