"""What changed, to the process's hub, once each.

Two sources: the rows the tracker of this process has just written (pushed at once), and a
look every tick at the rows any process changed lately (``changed_at``, ``updated_at``):
a hut another process turned offline, an alarm another process raised or staff reviewed.
Whatever both find is published once, as the feed remembers what it last published of
each hut and each alarm. Used by the tracker's thread only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.hut_state.hub import LiveHub
from server.storage import alarm_changes, hut_states
from server.storage.alarm_changes import AlarmView
from server.storage.hut_states import HutView
from server.storage.operations_models import HutState

ALARM_PAGE = 1000


class LiveFeed:
    def __init__(self, hub: LiveHub, *, lookback: timedelta) -> None:
        self._hub = hub
        self._lookback = lookback
        self._huts: dict[str, HutView] = {}
        self._alarms: dict[int, AlarmView] = {}
        # The newest change seen of each table (its own values, not our clock: a row of
        # another process carries that process's time).
        self._hut_cursor: datetime | None = None
        self._alarm_cursor: datetime | None = None
        self._primed = False

    def offer_rows(self, db: Session, rows: Sequence[HutState]) -> int:
        """Publish the rows just written whose state differs from what was published
        last (their views read again, with the newest event's time); how many."""
        differ = [
            row.hut_id
            for row in rows
            if not HutView.of(row.hut_id, row, last_event_at=None).same_state(
                self._huts.get(row.hut_id)
            )
        ]
        if not differ:
            return 0
        return self.offer_huts(hut_states.hut_views(db, differ).values())

    def offer_huts(self, views: Iterable[HutView]) -> int:
        published = 0
        for view in views:
            if view.changed_at is not None and (
                self._hut_cursor is None or view.changed_at > self._hut_cursor
            ):
                self._hut_cursor = view.changed_at
            if view.same_state(self._huts.get(view.hut_id)):
                continue
            self._huts[view.hut_id] = view
            self._hub.publish(view)
            published += 1
        return published

    def poll(self, db: Session) -> int:
        """Look for what changed lately, whoever changed it; how many were published."""
        if not self._primed:
            # Start from now: the first look learns every hut's state and the newest alarm.
            self._alarm_cursor = alarm_changes.newest_alarm_change(db)
            self._primed = True
            return self.offer_huts(hut_states.changed_views(db, since=None))
        published = self.offer_huts(
            hut_states.changed_views(db, since=self._since(self._hut_cursor))
        )
        return published + self._poll_alarms(db)

    def _since(self, cursor: datetime | None) -> datetime | None:
        return None if cursor is None else cursor - self._lookback

    def _poll_alarms(self, db: Session) -> int:
        since = self._since(self._alarm_cursor)
        published = 0
        after: tuple[datetime, int] | None = None
        while True:
            page = alarm_changes.alarm_changes(db, since=since, after=after, limit=ALARM_PAGE)
            for view in page:
                published += self._offer_alarm(view)
            if len(page) < ALARM_PAGE:
                break
            after = (page[-1].updated_at, page[-1].id)
        if since is not None:  # what fell out of the window will not be read again
            forget = since - self._lookback
            self._alarms = {k: v for k, v in self._alarms.items() if v.updated_at >= forget}
        return published

    def _offer_alarm(self, view: AlarmView) -> int:
        if self._alarm_cursor is None or view.updated_at > self._alarm_cursor:
            self._alarm_cursor = view.updated_at
        if view.same_state(self._alarms.get(view.id)):
            return 0
        self._alarms[view.id] = view
        self._hub.publish(view)
        return 1
