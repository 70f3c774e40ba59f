"""The hut-state tracker's work, without the broker: the statuses it is handed written to
``hut_states`` (changed_at only on a change, since only when online flips, one
transaction a take), the huts gone quiet turned offline by a tick of a moved clock, the
bad messages logged and dropped, and each change told to the hub once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session, sessionmaker

from server.clock import OffsetClock
from server.hut_state.config import HutStateSettings
from server.hut_state.hub import LiveHub, Subscription
from server.hut_state.intake import REJECTION_LINES, Received
from server.hut_state.tracker import HutStateTracker
from server.settings import ServerSettings
from server.storage.alarm_changes import AlarmView
from server.storage.hut_states import HutView
from server.storage.models import Hut
from server.storage.operations_models import Alarm, HutState
from tests.support.keys import TestKeys
from toolhut.contract import (
    AlarmKind,
    DoorState,
    GatewayState,
    Status,
    StatusCounters,
    TopicKind,
    Topics,
)

from .conftest import T0, MovableClock

PREFIX = "track"
TOPICS = Topics(PREFIX)
STALE_S = 200.0


@dataclass
class Tracking:
    tracker: HutStateTracker
    sessions: sessionmaker[Session]
    keys: TestKeys
    clock: MovableClock
    live: Subscription

    def status(self, hut: str, **fields: object) -> Received:
        """A status of ``hut`` sealed with its key, stamped with the clock's time."""
        values: dict[str, object] = {"state": GatewayState.ONLINE, "ts": self.clock()}
        values.update(fields)
        status = Status(hut=hut, **values)  # type: ignore[arg-type]
        return Received(TOPICS.status(hut), status.sealed(self.keys.key(hut)))

    def will(self, hut: str) -> Received:
        status = Status(hut=hut, state=GatewayState.OFFLINE)
        return Received(TOPICS.status(hut), status.sealed(self.keys.key(hut)))

    def row(self, hut: str) -> HutState | None:
        with self.sessions() as db:
            return db.get(HutState, hut)

    def published(self) -> list[HutView | AlarmView]:
        return self.live.take_now().changes


def _settings(**hut_state: object) -> ServerSettings:
    return ServerSettings(
        topic_prefix=PREFIX,
        hut_state=HutStateSettings(stale_s=STALE_S, **hut_state),  # type: ignore[arg-type]
    )


def _add_huts(sessions: sessionmaker[Session], *huts: str) -> None:
    with sessions.begin() as db:
        db.add_all(Hut(id=hut, name=f"工具屋 {hut}") for hut in huts)


@pytest.fixture
def tracking(
    sessions: sessionmaker[Session], keys: TestKeys, clock: MovableClock
) -> Iterator[Tracking]:
    _add_huts(sessions, "hut-a", "hut-b")
    hub = LiveHub(limit=10_000)
    tracker = HutStateTracker(
        _settings(), sessions=sessions, keyring=keys.keyring, hub=hub, clock=clock
    )
    live = hub.subscribe()
    yield Tracking(tracker, sessions, keys, clock, live)
    live.close()


def test_the_first_status_makes_the_hut_online_since_then(tracking: Tracking) -> None:
    written = tracking.tracker.handle(
        [
            tracking.status(
                "hut-a",
                firmware="th-1.4.2",
                door=DoorState.CLOSED,
                controller="ok",
                lock="locked",
                allowlist=7,
                outbox=0,
                alarms=[],
                counters=StatusCounters(frames=12),
                uptime_s=30,
            )
        ]
    )
    assert written == 1
    row = tracking.row("hut-a")
    assert row is not None
    assert (row.online, row.since, row.received_at, row.changed_at) == (True, T0, T0, T0)
    assert (row.firmware, row.door, row.lock, row.controller) == (
        "th-1.4.2",
        "closed",
        "locked",
        "ok",
    )
    assert (row.allowlist_version, row.outbox, row.alarms, row.uptime_s) == (7, 0, [], 30)
    assert row.counters is not None and row.counters["frames"] == 12
    assert row.status_at == T0
    [view] = tracking.published()
    assert isinstance(view, HutView) and view.hut_id == "hut-a" and view.online


def test_a_status_that_changes_nothing_moves_only_when_it_was_heard(
    tracking: Tracking,
) -> None:
    tracker, clock = tracking.tracker, tracking.clock
    tracker.handle([tracking.status("hut-a", door=DoorState.CLOSED, outbox=0, uptime_s=1)])
    tracking.published()
    clock.advance(timedelta(seconds=60))
    # The counters and the uptime move with every status: they are no change.
    tracker.handle(
        [
            tracking.status(
                "hut-a",
                door=DoorState.CLOSED,
                outbox=0,
                uptime_s=61,
                counters=StatusCounters(frames=99),
            )
        ]
    )
    row = tracking.row("hut-a")
    assert row is not None
    assert (row.received_at, row.status_at, row.uptime_s) == (clock(), clock(), 61)
    assert (row.since, row.changed_at) == (T0, T0)
    assert tracking.published() == []


def test_a_changed_field_moves_changed_at_and_not_since(tracking: Tracking) -> None:
    tracker, clock = tracking.tracker, tracking.clock
    tracker.handle([tracking.status("hut-a", door=DoorState.CLOSED, alarms=[])])
    tracking.published()
    clock.advance(timedelta(seconds=5))
    tracker.handle([tracking.status("hut-a", door=DoorState.OPEN, alarms=[AlarmKind.FORCED_OPEN])])
    row = tracking.row("hut-a")
    assert row is not None
    assert (row.door, row.alarms) == ("open", ["forced_open"])
    assert (row.since, row.changed_at) == (T0, clock())
    [view] = tracking.published()
    assert isinstance(view, HutView) and view.door == "open" and view.alarms == ("forced_open",)


def test_the_last_will_turns_the_hut_offline_and_keeps_what_it_last_said(
    tracking: Tracking,
) -> None:
    tracker, clock = tracking.tracker, tracking.clock
    tracker.handle([tracking.status("hut-a", door=DoorState.CLOSED, firmware="th-1")])
    clock.advance(timedelta(seconds=30))
    tracker.handle([tracking.will("hut-a")])
    row = tracking.row("hut-a")
    assert row is not None
    assert (row.online, row.since, row.changed_at) == (False, clock(), clock())
    assert (row.door, row.firmware) == ("closed", "th-1")
    clock.advance(timedelta(seconds=30))
    assert tracker.handle([tracking.will("hut-a")]) == 0  # offline already: nothing new
    clock.advance(timedelta(seconds=30))
    tracker.handle([tracking.status("hut-a", door=DoorState.CLOSED, firmware="th-1")])
    row = tracking.row("hut-a")
    assert row is not None and (row.online, row.since) == (True, clock())


def test_the_same_status_handed_over_again_is_no_news(tracking: Tracking) -> None:
    """At every reconnect the broker hands over the retained status again: it is not a
    sign that the gateway lives, even for a hut the tick turned offline meanwhile."""
    tracker, clock = tracking.tracker, tracking.clock
    retained = tracking.status("hut-a", door=DoorState.CLOSED)
    tracker.handle([retained])
    clock.advance(timedelta(seconds=STALE_S + 1))
    assert tracker.tick() == ["hut-a"]
    assert tracker.handle([retained]) == 0
    row = tracking.row("hut-a")
    assert row is not None and (row.online, row.received_at) == (False, T0)


def test_a_burst_of_statuses_is_written_in_one_transaction_and_the_last_of_each_hut_wins(
    sessions: sessionmaker[Session], keys: TestKeys, clock: MovableClock
) -> None:
    huts = [f"hut-{n:03d}" for n in range(500)]
    _add_huts(sessions, *huts)
    tracker = HutStateTracker(
        _settings(), sessions=sessions, keyring=keys.keyring, hub=LiveHub(), clock=clock
    )
    tracking = Tracking(tracker, sessions, keys, clock, LiveHub().subscribe())
    burst = [tracking.status(hut, outbox=1) for hut in huts]
    burst += [tracking.status(hut, outbox=0, ts=clock() + timedelta(seconds=1)) for hut in huts]
    commits: list[Session] = []

    def committed(session: Session) -> None:
        commits.append(session)

    event.listen(sessions, "after_commit", committed)
    try:
        assert tracker.handle(burst) == 500
    finally:
        event.remove(sessions, "after_commit", committed)
    assert len(commits) == 1
    with sessions() as db:
        outboxes = {row.hut_id: row.outbox for row in db.query(HutState)}
    assert outboxes == dict.fromkeys(huts, 0)


def test_a_tick_of_a_moved_clock_turns_the_quiet_huts_offline_once(
    tracking: Tracking, sessions: sessionmaker[Session], keys: TestKeys
) -> None:
    tracker, clock = tracking.tracker, tracking.clock
    tracker.handle([tracking.status("hut-a"), tracking.status("hut-b")])
    clock.advance(timedelta(seconds=STALE_S - 1))
    tracker.handle([tracking.status("hut-b")])  # hut-b still talks
    assert tracker.tick() == []
    clock.advance(timedelta(seconds=2))
    assert tracker.tick() == ["hut-a"]
    row = tracking.row("hut-a")
    assert row is not None and (row.online, row.since, row.changed_at) == (False, clock(), clock())
    other = tracking.row("hut-b")
    assert other is not None and other.online
    # Again, or from another server process at the same time: nothing more to do.
    assert tracker.tick() == []
    other_process = HutStateTracker(
        _settings(), sessions=sessions, keyring=keys.keyring, hub=LiveHub(), clock=clock
    )
    assert other_process.tick() == []
    clock.advance(timedelta(seconds=10))
    tracker.handle([tracking.status("hut-a")])
    row = tracking.row("hut-a")
    assert row is not None and (row.online, row.since) == (True, clock())


def _bad_messages(keys: TestKeys) -> dict[str, Received]:
    hut_a = TOPICS.status("hut-a")
    status = Status(hut="hut-a", state=GatewayState.OFFLINE).to_bytes()
    other = Status(hut="hut-b", state=GatewayState.OFFLINE).to_bytes()
    key_a, key_b = keys.key("hut-a"), keys.key("hut-b")
    sealed = key_a.seal(TopicKind.STATUS, status)
    return {
        "unsealed": Received(hut_a, status),
        "another hut's key": Received(hut_a, key_b.seal(TopicKind.STATUS, status)),
        "names another hut": Received(hut_a, key_a.seal(TopicKind.STATUS, other)),
        "an event's seal": Received(hut_a, key_a.seal(TopicKind.EVENTS, status)),
        "not json": Received(hut_a, b"\xff\xfe{not json"),
        "empty": Received(hut_a, b""),
        "not a status topic": Received(TOPICS.events("hut-a"), sealed),
        "a bad hut id": Received(f"{PREFIX}/v1/Hut A/status", sealed),
        "another prefix": Received(Topics("elsewhere").status("hut-a"), sealed),
    }


def test_a_bad_status_is_logged_and_changes_no_row(
    tracking: Tracking, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = tracking.tracker
    tracker.handle([tracking.status("hut-a", door=DoorState.CLOSED)])
    before = tracking.row("hut-a")
    tracking.published()
    bad = _bad_messages(tracking.keys)
    tracking.clock.advance(timedelta(seconds=5))
    with caplog.at_level(logging.WARNING, logger="server.hut_state"):
        for message in bad.values():  # one at a time, and all in one take
            assert tracker.handle([message]) == 0
        assert tracker.handle(list(bad.values())) == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ignored")]
    assert len(lines) == 2 * len(bad), lines
    assert all(line.startswith("ignored status on ") for line in lines)
    after = tracking.row("hut-a")
    assert after is not None and before is not None
    assert (after.online, after.received_at, after.changed_at) == (True, T0, T0)
    assert tracking.published() == []


def test_a_good_status_among_bad_ones_is_written(tracking: Tracking) -> None:
    bad = list(_bad_messages(tracking.keys).values())
    assert tracking.tracker.handle([*bad, tracking.status("hut-b"), *bad]) == 1
    assert tracking.row("hut-b") is not None and tracking.row("hut-a") is None


def test_an_unknown_hut_is_logged_and_ignored(
    tracking: Tracking, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="server.hut_state"):
        assert tracking.tracker.handle([tracking.status("hut-z"), tracking.status("hut-a")]) == 1
    assert "ignored the status of unknown hut 'hut-z'" in caplog.text
    assert tracking.row("hut-z") is None and tracking.row("hut-a") is not None


def test_a_flood_of_bad_statuses_writes_a_bounded_number_of_lines(
    tracking: Tracking, caplog: pytest.LogCaptureFixture
) -> None:
    unsealed = _bad_messages(tracking.keys)["unsealed"]
    with caplog.at_level(logging.WARNING, logger="server.hut_state"):
        tracking.tracker.handle([unsealed] * 1000)
        tracking.tracker.stop()  # says how many lines it held back
    ignored = [r for r in caplog.records if r.getMessage().startswith("ignored status")]
    assert len(ignored) == REJECTION_LINES
    assert f"suppressed {1000 - REJECTION_LINES} similar lines" in caplog.text


def test_each_change_is_published_once_whichever_process_made_it(
    tracking: Tracking, sessions: sessionmaker[Session], keys: TestKeys
) -> None:
    tracker, clock = tracking.tracker, tracking.clock
    tracker.tick()  # the first look learns what is there
    tracking.published()
    other_process = HutStateTracker(
        _settings(), sessions=sessions, keyring=keys.keyring, hub=LiveHub(), clock=clock
    )
    # Another process writes a change this one has not seen: the next tick finds it.
    other_process.handle([tracking.status("hut-b", door=DoorState.OPEN)])
    tracker.tick()
    [view] = tracking.published()
    assert isinstance(view, HutView) and (view.hut_id, view.door) == ("hut-b", "open")
    tracker.tick()
    assert tracking.published() == []
    # The same status reaches this process too: nothing new, nothing published again.
    tracker.handle([tracking.status("hut-b", door=DoorState.OPEN)])
    assert tracking.published() == []
    # Another process writes first, and this one takes the same status before its tick:
    # it writes nothing, and its stream hears the change at once.
    clock.advance(timedelta(seconds=1))
    closed = tracking.status("hut-b", door=DoorState.CLOSED)
    assert other_process.handle([closed]) == 1
    assert tracker.handle([closed]) == 0
    [view] = tracking.published()
    assert isinstance(view, HutView) and view.door == "closed"
    tracker.tick()
    assert tracking.published() == []
    # An alarm raised by another process, then updated where the stream shows nothing.
    with sessions.begin() as db:
        alarm = Alarm(
            hut_id="hut-b", kind="forced_open", source="controller", raised_at=clock(),
            updated_at=clock(),
        )  # fmt: skip
        db.add(alarm)
    tracker.tick()
    [raised] = tracking.published()
    assert isinstance(raised, AlarmView)
    assert (raised.hut_id, raised.kind, raised.active, raised.resolved) == (
        "hut-b",
        "forced_open",
        True,
        False,
    )
    clock.advance(timedelta(seconds=1))
    with sessions.begin() as db:
        db.execute(update(Alarm).values(repeats=Alarm.repeats + 1, updated_at=clock()))
    tracker.tick()
    assert tracking.published() == []
    with sessions.begin() as db:
        db.execute(update(Alarm).values(active=False, cleared_at=clock(), updated_at=clock()))
    tracker.tick()
    [cleared] = tracking.published()
    assert isinstance(cleared, AlarmView) and not cleared.active


def test_a_moved_clock_gives_the_huts_stale_s_to_speak_before_any_is_quiet(
    sessions: sessionmaker[Session], keys: TestKeys, clock: MovableClock
) -> None:
    """The demo's ``time +4d``: every last status is four days old at once, and no hut
    went quiet for it."""
    _add_huts(sessions, "hut-a", "hut-b")
    offset = OffsetClock(clock)
    tracker = HutStateTracker(
        _settings(), sessions=sessions, keyring=keys.keyring, hub=LiveHub(), clock=offset
    )
    tracking = Tracking(tracker, sessions, keys, offset, LiveHub().subscribe())  # type: ignore[arg-type]
    tracker.handle([tracking.status("hut-a"), tracking.status("hut-b")])
    offset.advance(timedelta(days=4))
    assert tracker.tick() == []
    clock.advance(timedelta(seconds=STALE_S / 2))
    tracker.handle([tracking.status("hut-b")])  # hut-b speaks after the move, hut-a never
    assert tracker.tick() == []
    clock.advance(timedelta(seconds=STALE_S / 2 + 1))
    assert tracker.tick() == ["hut-a"]
    tracker.stop()


def test_the_allowlist_each_verified_status_names_is_handed_on(
    sessions: sessionmaker[Session], keys: TestKeys, clock: MovableClock
) -> None:
    """What the allowlist thread republishes from (a gateway with no list, or an older
    one): the version of each verified status, none of a status that is not."""
    _add_huts(sessions, "hut-a", "hut-b")
    told: list[dict[str, int | None]] = []
    tracker = HutStateTracker(
        _settings(), sessions=sessions, keyring=keys.keyring, hub=LiveHub(), clock=clock,
        on_lists=told.append,
    )  # fmt: skip
    tracking = Tracking(tracker, sessions, keys, clock, LiveHub().subscribe())
    forged = Received(TOPICS.status("hut-b"), tracking.status("hut-a").payload)
    tracker.handle([tracking.status("hut-a", allowlist=7), tracking.status("hut-b"), forged])
    assert told == [{"hut-a": 7, "hut-b": None}]
