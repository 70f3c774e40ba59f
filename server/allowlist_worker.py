"""The thread that builds and publishes the huts' allowlists, beside the ingest worker.

Building a list hashes every card it names (at 20,000 cards, about 0.1 s of CPU a hut):
done on the ingest thread, a round of every hut held every event's ack behind it. Here it
has its own thread and its own database sessions, and publishes on the ingest worker's
broker connection (paho's publish may be called from any thread). What asks for lists:
a commit that changed cards or members (``access_changes``), the periodic digest check,
the (re)connect to the broker (a check, not a forced round: the digest on each hut's row
says whether its retained list is current), and a gateway whose status says it decides
with an older list than the one published, or none (a broker restarted without
persistence lost the retained lists; a gateway whose data was wiped lost its own).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from server.allowlists import Publisher, publish_allowlists
from server.clock import Clock
from server.db_retry import with_db_retry
from server.handover import Inbox
from server.hut_state.config import GATEWAY_STATUS_INTERVAL_S
from server.metrics import ServerMetrics
from server.storage import queries
from toolhut.contract import Topics
from toolhut.hut_keys import HutKeyring

log = logging.getLogger(__name__)

# A gateway that reports an older list than the one published is sent it again only if
# that list went out longer ago than this: its status after the new list may still be on
# its way (it reports a new list at once), every server process hears the same status,
# and a gateway that keeps refusing a list is not sent it at each of its statuses.
BEHIND_GRACE = timedelta(seconds=2 * GATEWAY_STATUS_INTERVAL_S)
MAX_RESENDS = 3  # of a newer list to a gateway that keeps reporting the same older one


@dataclass(frozen=True, slots=True)
class AllowlistRequest:
    """``force``: publish the lists whatever their digest says; ``huts``: only these
    (None: every hut); ``reported``: the list version each of some huts' gateways says it
    decides with (None: it has none), to publish again those that are behind; ``then``:
    called once the requests taken with this one are done (and nothing else)."""

    force: bool = False
    huts: frozenset[str] | None = None
    reported: tuple[tuple[str, int | None], ...] = ()
    then: Callable[[], None] | None = None


class AllowlistWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        topics: Topics,
        keyring: HutKeyring,
        clock: Clock,
        publisher: Callable[[], Publisher | None],
        check_s: float,
        metrics: ServerMetrics,
        tags: bool = True,
    ) -> None:
        self._sessions = sessions
        self._topics = topics
        self._keyring = keyring
        self._clock = clock
        self._publisher = publisher  # None while there is no broker connection
        self._check_s = check_s
        self._tags = tags  # the cards of other huts as short tags (publish_allowlists)
        self._metrics = metrics
        self._inbox: Inbox[AllowlistRequest] = Inbox()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_check = 0.0
        # hut -> (the version its gateway keeps reporting, how often we sent it a newer one)
        self._resent: dict[str, tuple[int | None, int]] = {}
        self.busy = threading.Event()  # set while a round builds or publishes

    def start(self) -> None:
        self._next_check = time.monotonic() + self._check_s
        self._thread = threading.Thread(target=self._run, name="toolhut-allowlists", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def request(self, *, force: bool = False, huts: Iterable[str] | None = None) -> None:
        """From any thread: publish the lists (see AllowlistRequest)."""
        self._inbox.put(AllowlistRequest(force, None if huts is None else frozenset(huts)))

    def reported(self, versions: dict[str, int | None]) -> None:
        """From any thread: the list version each hut's gateway says it decides with."""
        if versions:
            self._inbox.put(AllowlistRequest(reported=tuple(versions.items())))

    def after_round(self, then: Callable[[], None]) -> None:
        """Call ``then`` (on this thread) once every request put before it is done."""
        self._inbox.put(AllowlistRequest(then=then))

    def _run(self) -> None:
        while not self._stopping.is_set():
            if time.monotonic() >= self._next_check:
                self._next_check = time.monotonic() + self._check_s
                self._inbox.put(AllowlistRequest())
            requests = self._inbox.take(1000, timeout=0.2)
            if not requests:
                continue
            try:
                with_db_retry(partial(self._handle, requests), stopping=self._stopping)
            except Exception:  # the thread never dies: the next check publishes
                log.exception("allowlist round failed")
            finally:
                self.busy.clear()
            for request in requests:
                if request.then is not None:
                    try:
                        request.then()
                    except Exception:  # a waiter's callback: the thread goes on
                        log.exception("allowlist request callback failed")

    def _handle(self, requests: list[AllowlistRequest]) -> None:
        publisher = self._publisher()
        if publisher is None:
            return  # the (re)connect asks again
        self.busy.set()
        reported = {hut: version for r in requests for hut, version in r.reported}
        if reported:
            self._republish_behind(publisher, reported)
        plain = [r for r in requests if not r.reported and r.then is None]
        if not plain:
            return
        force = any(r.force for r in plain)
        huts: frozenset[str] | None = frozenset()
        for r in plain:
            huts = None if huts is None or r.huts is None else huts | r.huts
        self._publish(publisher, force=force, huts=huts)

    def _republish_behind(self, publisher: Publisher, reported: dict[str, int | None]) -> None:
        with self._sessions() as db:
            behind = [
                hut.id
                for hut in queries.get_huts(db, reported).values()
                if hut.allowlist_version and (reported.get(hut.id) or 0) < hut.allowlist_version
            ]
        stale = [hut for hut in behind if self._may_resend(hut, reported[hut])]
        if stale:
            log.info("%d huts decide with an older allowlist: publishing theirs", len(stale))
            self._publish(
                publisher, force=True, huts=frozenset(stale),
                since=self._clock() - BEHIND_GRACE,
            )  # fmt: skip

    def _may_resend(self, hut: str, reported: int | None) -> bool:
        """Whether to send ``hut`` its list again: at most MAX_RESENDS times while its
        gateway keeps reporting the same older version (a gateway that refuses the list,
        e.g. one older than a field of it: docs/mqtt-contract.md), then a warning, once,
        until it reports another."""
        last, times = self._resent.get(hut, (reported, 0))
        times = times + 1 if last == reported else 1
        self._resent[hut] = (reported, times)
        if times == MAX_RESENDS + 1:
            log.warning(
                "hut %s keeps deciding with allowlist v%s after %d newer ones were sent: "
                "not sent again until it reports another (is its gateway older than the "
                "server? docs/mqtt-contract.md, upgrade order)", hut, reported, MAX_RESENDS,
            )  # fmt: skip
        return times <= MAX_RESENDS

    def _publish(
        self,
        publisher: Publisher,
        *,
        force: bool,
        huts: frozenset[str] | None,
        since: datetime | None = None,
    ) -> None:
        published = publish_allowlists(
            self._sessions,
            publisher,
            topics=self._topics,
            keyring=self._keyring,
            clock=self._clock,
            force=force,
            huts=huts,
            unless_published_since=since,
            tags=self._tags,
        )
        self._metrics.allowlists_published(len(published))
