from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hut_gateway.session import EnrolWindow, enrol_window_s


def test_the_next_card_is_taken_once_within_the_window() -> None:
    window = EnrolWindow()
    assert not window.take(now=0)
    window.open(now=10, duration_s=60)
    assert window.active(now=69.9)
    assert window.take(now=20)
    assert not window.take(now=21)


def test_an_unused_window_expires_once() -> None:
    window = EnrolWindow()
    window.open(now=0, duration_s=60)
    assert not window.expire(now=59)
    assert window.expire(now=60)
    assert not window.expire(now=61)
    assert not window.take(now=30)  # gone, even if the clock went back


def test_a_late_card_is_not_enrolled() -> None:
    window = EnrolWindow()
    window.open(now=0, duration_s=60)
    assert not window.take(now=60)
    assert not window.active(now=1)


def test_the_window_lasts_until_the_command_expires_at_most_the_gateways_limit() -> None:
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert enrol_window_s(now + timedelta(seconds=90), now=now, limit_s=300) == 90
    assert enrol_window_s(now + timedelta(seconds=600), now=now, limit_s=300) == 300
    assert enrol_window_s(now - timedelta(seconds=1), now=now, limit_s=300) == 0
