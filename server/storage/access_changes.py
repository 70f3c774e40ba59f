"""Who may open a hut changed: noticed in the session, told to listeners after the commit.

Every session notices, whoever made it (listeners on ``Session`` and on the mapped
classes): a card inserted, updated or deleted, a member's status changed, or an ORM bulk
UPDATE or DELETE of cards or members (the reminder policy's ``suspend_borrowing``). After
that session's commit, the listeners registered for its database hear about it: the
server process's ingest worker, which republishes the allowlists. A rollback tells nobody.

What this cannot see (SQL typed by an administrator, a restore, another process) the
ingest worker's periodic digest check finds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from server.storage.models import Card, Member

log = logging.getLogger(__name__)

Listener = Callable[[], None]

_KEY = "toolhut.access_changed"
_lock = threading.Lock()
_listeners: dict[str, list[Listener]] = {}  # by database URL: engines of one database share


def _database(bind: Engine | Connection) -> str:
    return bind.engine.url.render_as_string(hide_password=True)


def listen(engine: Engine, listener: Listener) -> Callable[[], None]:
    """Call ``listener`` after every commit on ``engine``'s database that changed access;
    returns the function that stops it. It runs on the committing thread: keep it short."""
    key = _database(engine)
    with _lock:
        _listeners.setdefault(key, []).append(listener)

    def stop() -> None:
        with _lock:
            listeners = _listeners.get(key, [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                _listeners.pop(key, None)

    return stop


def mark(session: Session) -> None:
    """Say this transaction changed access (for changes made in ways not noticed here)."""
    session.info[_KEY] = True


def _mark_object(_mapper: Any, _connection: Any, target: Any) -> None:
    session = Session.object_session(target)
    if session is not None:
        mark(session)


def _member_updated(_mapper: Any, _connection: Any, target: Member) -> None:
    if inspect(target).attrs.status.history.has_changes():
        _mark_object(_mapper, _connection, target)


def _bulk_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (Card, Member):
        mark(state.session)


def _after_commit(session: Session) -> None:
    if not session.info.pop(_KEY, False):
        return
    try:
        bind = session.get_bind()
    except UnboundExecutionError:  # bound to nothing: it cannot have committed anything
        return
    with _lock:
        listeners = list(_listeners.get(_database(bind), ()))
    for listener in listeners:
        try:
            listener()
        except Exception:  # a listener's failure must not look like a failed commit
            log.exception("access change listener failed")


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # after a commit the flag is gone; after a rollback, too
        session.info.pop(_KEY, None)


for _event in ("after_insert", "after_delete", "after_update"):
    event.listen(Card, _event, _mark_object)
event.listen(Member, "after_update", _member_updated)
event.listen(Member, "after_delete", _mark_object)
event.listen(Session, "do_orm_execute", _bulk_statement)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_transaction_end", _after_transaction_end)


__all__ = ["listen", "mark"]
