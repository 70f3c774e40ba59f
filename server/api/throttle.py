"""Wrong secrets from one client are throttled: after ``limit`` failures within ``window``
the key is refused (429, Retry-After) until its oldest failure is older than the window.

Keyed by any string, so staff sign-in (issue 12) can throttle per account and per address
with two keys. Time is the caller's (``now``), so tests move a clock instead of sleeping."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from toolhut.i18n import bilingual

# What the client reads: Chinese first, English beside it.
TEXT_THROTTLED = bilingual("too many wrong attempts: try again later")


class FailureThrottle:
    def __init__(
        self, *, limit: int = 10, window: timedelta = timedelta(minutes=1), max_keys: int = 10_000
    ) -> None:
        if limit < 1 or window <= timedelta(0) or max_keys < 1:
            raise ValueError("limit, window and max_keys must be positive")
        self.limit = limit
        self.window = window
        self._max_keys = max_keys  # a flood of addresses must not grow memory without end
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str, *, now: datetime) -> int | None:
        """Whole seconds until ``key`` may try again, or None if it may now."""
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return None
            wait = failures[-self.limit] + self.window - now
            return max(1, math.ceil(wait.total_seconds()))

    def failed(self, key: str, *, now: datetime) -> None:
        with self._lock:
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures


class SignInThrottle:
    """Wrong passwords counted twice: per account (a guesser trying one account from many
    addresses) and per address (one address trying many accounts). Either over its limit
    refuses the sign-in, before the password is checked."""

    def __init__(
        self,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        self.account = FailureThrottle(limit=per_account, window=window)
        self.address = FailureThrottle(limit=per_address, window=window)

    def retry_after(self, username: str, address: str, *, now: datetime) -> int | None:
        waits = [
            self.account.retry_after(username.lower(), now=now),
            self.address.retry_after(address, now=now),
        ]
        return max((wait for wait in waits if wait is not None), default=None)

    def failed(self, username: str, address: str, *, now: datetime) -> None:
        self.account.failed(username.lower(), now=now)
        self.address.failed(address, now=now)
