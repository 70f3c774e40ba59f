from __future__ import annotations

from hut_gateway.session import SessionTracker


def test_card_door_scans_close_is_one_session() -> None:
    tracker = SessionTracker(idle_timeout_s=60)
    session = tracker.start("04A1B2C3", now=0)
    assert tracker.door_opened(now=5) is not None
    assert tracker.touch(now=500).id == session.id  # door open: no idle timeout
    ended = tracker.door_closed(now=600)
    assert ended is not None and ended.id == session.id
    assert tracker.current(now=601) is None


def test_idle_session_with_the_door_shut_expires() -> None:
    tracker = SessionTracker(idle_timeout_s=60)
    tracker.start("04A1B2C3", now=0)
    assert tracker.current(now=59) is not None
    assert tracker.current(now=61) is None


def test_closing_a_door_that_never_opened_keeps_the_session() -> None:
    tracker = SessionTracker(idle_timeout_s=60)
    tracker.start("04A1B2C3", now=0)
    assert tracker.door_closed(now=1) is None
    assert tracker.current(now=2) is not None


def test_a_new_card_replaces_the_open_session() -> None:
    tracker = SessionTracker(idle_timeout_s=60)
    first = tracker.start("04A1B2C3", now=0)
    second = tracker.start("04D5E6F7", now=1)
    assert tracker.current(now=2) == second != first
