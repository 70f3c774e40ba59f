"""Who may open a hut changed: said by whoever changed it, told to listeners after the commit.

Nothing here watches the database. Whoever changes a card or a member's status says so
with ``mark(db)``: the effect writer does for every member and card change it applies (the
staff's access actions and the reminder policy's suspension go through the rule book and
so through it). The notification belongs to a session factory: ``install(factory)`` (done by
``make_sessionmaker``) gives that factory its own listeners and hooks on the factory's
commits only, not on SQLAlchemy's ``Session`` class. After a marked commit of one of its
sessions, the listeners of that factory hear about it: the server process's allowlist thread
(server/allowlist_worker.py), which republishes the lists that changed. A rollback tells nobody.

What no one marked (SQL typed by an administrator, a restore, another process) the allowlist
thread's periodic digest check finds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)

Listener = Callable[[], None]

_CHANGED = "toolhut.access_changed"
_LISTENERS = "toolhut.access_listeners"


class AccessListeners:
    """The listeners of one session factory: told after each of its commits that changed
    access. They run on the committing thread: keep them short."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> Callable[[], None]:
        """Start telling ``listener``; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def tell(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a listener's failure must not look like a failed commit
                log.exception("access change listener failed")


def install(factory: sessionmaker[Session]) -> AccessListeners:
    """Give ``factory`` listeners told after its sessions' commits that changed access."""
    listeners = AccessListeners()
    info: dict[Any, Any] = factory.kw.setdefault("info", {})
    info[_LISTENERS] = listeners  # every session of the factory finds them in its info

    def after_commit(db: Session) -> None:
        if db.info.pop(_CHANGED, False):
            listeners.tell()

    def after_transaction_end(db: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # after a commit the mark is gone; after a rollback, too
            db.info.pop(_CHANGED, None)

    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_transaction_end", after_transaction_end)
    return listeners


def listen(factory: sessionmaker[Session], listener: Listener) -> Callable[[], None]:
    """Call ``listener`` after every commit of ``factory``'s sessions that changed access;
    returns the function that stops it."""
    with factory() as db:  # no connection is taken: db only shows its info
        listeners = db.info.get(_LISTENERS)
    if not isinstance(listeners, AccessListeners):
        raise TypeError("the session factory has no access listeners: build it with install()")
    return listeners.add(listener)


def mark(db: Session) -> None:
    """Say this transaction changed who may open a hut: its commit tells the listeners."""
    db.info[_CHANGED] = True


__all__ = ["AccessListeners", "install", "listen", "mark"]
