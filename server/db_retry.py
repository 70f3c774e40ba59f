"""Wait for a database that is away, rather than drop or dead-letter what was being done:
the worker threads' (ingest, allowlists) retry with backoff."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

DB_RETRY_MAX = 30.0


def with_db_retry(work: Callable[[], object], *, stopping: threading.Event) -> None:
    """Run ``work`` until it does not fail for want of the database (or ``stopping``)."""
    delay = 0.5
    while True:
        try:
            work()
            return
        except (OperationalError, InterfaceError) as exc:
            log.error("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
            if stopping.wait(delay):
                return
            delay = min(delay * 2, DB_RETRY_MAX)
