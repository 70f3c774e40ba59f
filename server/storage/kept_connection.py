"""The connection a worker thread keeps from one transaction to the next.

A resident's scan is a transaction of its own. Taken from the pool, each one also paid for
the checkout: on PostgreSQL the pool's ping (a round trip) and the pool's bookkeeping. A
worker that keeps its connection pays that once. The ping was what noticed a connection the
database had closed meanwhile (restarted, say); here the transaction's first statement
notices instead, and the transaction is run once more, at once, on a connection from the
pool (pinged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")


class KeptConnection:
    """Runs transactions on one connection, kept between them; for one thread only."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        bind = sessions.kw.get("bind")
        if not isinstance(bind, Engine):
            raise TypeError("KeptConnection needs a session factory bound to an engine")
        self._engine = bind
        self._sessions = sessions
        self._connection: Connection | None = None

    @property
    def kept(self) -> bool:
        return self._connection is not None

    def transaction(self, work: Callable[[Session], T]) -> T:
        """``work(db)`` in a transaction of its own, committed; what it returns. Whatever it
        raises, the transaction is rolled back and the connection goes back to the pool
        (discarded if the driver says it is broken). If the kept connection is found broken,
        ``work`` is run again, once, on a fresh one: what it had done died uncommitted with
        the old connection (or, had only the commit's answer been lost, is found done)."""
        reused = self._connection is not None
        try:
            return self._run(work)
        except DBAPIError as exc:
            if not (reused and exc.connection_invalidated):
                raise
            log.warning("kept database connection was closed (%s); taking a fresh one", exc.orig)
        return self._run(work)

    def release(self) -> None:
        """Give the connection back to the pool (the next transaction checks one out)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _run(self, work: Callable[[Session], T]) -> T:
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            with self._sessions(bind=self._connection) as db, db.begin():
                return work(db)
        except BaseException:
            self.release()
            raise
