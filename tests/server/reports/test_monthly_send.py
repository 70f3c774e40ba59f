"""The monthly send, driven by a clock moved across the month's end: at midnight of the
1st in each hut's zone (the district's in reports.timezone) last month's report is kept
and told to the staff channel once, however many processes look."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.reminders.channels import build_channels
from server.reminders.config import ReminderSettings
from server.reports import service
from server.reports.config import ReportSettings
from server.reports.monthly_send import MonthlySender
from server.storage import report_store
from server.storage.models import Hut
from server.storage.report_models import MonthlyReport, MonthlyReportSend

from ..conftest import MovableClock
from ..receivers import WebhookReceiver, webhook_receiver
from . import month_ledger as ledger


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def november(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    ledger.build(sessions)
    with sessions.begin() as db:
        other = db.get(Hut, ledger.OTHER_HUT)
        assert other is not None
        other.timezone = "Europe/Berlin"  # its month ends seven hours after Shanghai's
    return sessions


def sender(
    sessions: sessionmaker[Session], receiver: WebhookReceiver, clock: MovableClock, worker: str
) -> MonthlySender:
    reminders = ReminderSettings(channels={"staff": f"{receiver.apprise_base}/staff"})
    return MonthlySender(
        settings=ReportSettings(),
        reminders=reminders,
        sessions=sessions,
        channels=build_channels(reminders.channels, sessions=sessions, clock=clock),
        worker_id=worker,
        console_url="https://hut.example.org/",
    )


def kept(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    """(month, hut or "" for the district, language) of the kept reports."""
    with sessions() as db:
        rows = db.execute(
            select(MonthlyReport.month, MonthlyReport.hut_id, MonthlyReport.language)
        ).all()
    return sorted((m, h or "", lang) for m, h, lang in rows)


def messages(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    with receiver.lock:
        return [body for _path, body in receiver.posts]


def test_sent_once_at_each_zones_month_end(
    november: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    clock = MovableClock(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
    one = sender(november, receiver, clock, "one")
    two = sender(november, receiver, clock, "two")
    assert one.tick(clock()) == [] and kept(november) == []

    clock.now = datetime(2026, 11, 30, 16, 0, 30, tzinfo=UTC)  # Dec 1, 00:00:30 in Shanghai
    results: list[list[tuple[str | None, str]]] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.tick(clock()))) for s in (one, two)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent = sorted((h or "", m) for r in results for h, m in r)
    assert sent == [("", "2026-11"), ("demo-hut", "2026-11")]  # Berlin is still in November
    assert kept(november) == [
        ("2026-11", "", "en"),
        ("2026-11", "", "zh_CN"),
        ("2026-11", "demo-hut", "en"),
        ("2026-11", "demo-hut", "zh_CN"),
    ]
    posts = messages(receiver)
    assert len(posts) == 2
    hut_post = next(p for p in posts if "demo-hut" in p["message"])
    text = hut_post["title"] + hut_post["message"]
    assert "共享工具屋月度报告" in text and "Tool hut monthly report 2026-11" in text
    assert "借用 5 次" in text and "5 loans" in text and "逾期率 60.0%" in text
    assert "https://hut.example.org/console/reports" in text
    for secret in ("张阿姨", "李师傅", "3-201", ledger.ZHANG):
        assert secret not in text

    assert one.tick(clock()) == [] and two.tick(clock()) == []  # nothing twice
    clock.now = datetime(2026, 11, 30, 23, 0, 30, tzinfo=UTC)  # Dec 1, 00:00:30 in Berlin
    assert two.tick(clock()) == [(ledger.OTHER_HUT, "2026-11")]
    assert len(messages(receiver)) == 3
    with november() as db:
        sends = db.scalars(select(MonthlyReportSend)).all()
        assert sorted(s.scope for s in sends) == ["*", "demo-hut", ledger.OTHER_HUT]
        assert all(s.message_id is not None for s in sends)


def test_a_late_start_catches_up_within_the_first_week_only(
    november: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    clock = MovableClock(datetime(2026, 12, 5, 2, tzinfo=UTC))
    late = sender(november, receiver, clock, "late")
    assert sorted(h or "" for h, _ in late.tick(clock())) == ["", "demo-hut", ledger.OTHER_HUT]
    clock.now = datetime(2027, 1, 9, 2, tzinfo=UTC)  # December's is left to staff
    assert late.tick(clock()) == []
    with november() as db:
        assert db.scalar(select(func.count()).select_from(MonthlyReportSend)) == 3


def test_the_claim_is_won_once(sessions: sessionmaker[Session]) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with sessions.begin() as db:
        assert report_store.claim_send(db, month="2026-11", scope="*", now=now, worker="a")
    with sessions.begin() as db:
        assert not report_store.claim_send(db, month="2026-11", scope="*", now=now, worker="b")
        assert report_store.claim_send(db, month="2026-12", scope="*", now=now, worker="b")


def test_only_the_process_that_wins_the_claim_builds(
    november: sessionmaker[Session], receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every process used to build every report and then lose the claim but one: at 500
    # huts, minutes of both cores on the 1st.
    built: list[str | None] = []
    real_build = service.build

    def counted(db: Session, **kwargs: Any) -> Any:
        built.append(kwargs["hut_id"])
        return real_build(db, **kwargs)

    monkeypatch.setattr(service, "build", counted)
    clock = MovableClock(datetime(2026, 11, 30, 16, 0, 30, tzinfo=UTC))
    senders = [sender(november, receiver, clock, name) for name in ("one", "two", "three")]
    threads = [threading.Thread(target=s.tick, args=(clock(),)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(h or "" for h in built) == ["", "demo-hut"]
    assert len(messages(receiver)) == 2


def test_a_failed_build_gives_its_claim_back_and_holds_back_no_other(
    november: sessionmaker[Session],
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_build = service.build

    def broken_for_the_district(db: Session, **kwargs: Any) -> Any:
        if kwargs["hut_id"] is None:
            raise RuntimeError("the PDF font is missing")
        return real_build(db, **kwargs)

    clock = MovableClock(datetime(2026, 11, 30, 16, 0, 30, tzinfo=UTC))
    first = sender(november, receiver, clock, "first")
    monkeypatch.setattr(service, "build", broken_for_the_district)
    assert first.tick(clock()) == [("demo-hut", "2026-11")]
    assert "monthly report 2026-11 of the district failed" in caplog.text
    with november() as db:
        assert report_store.claimed(db, "2026-11", now=clock()) == {"demo-hut"}
    monkeypatch.setattr(service, "build", real_build)
    clock.now = datetime(2026, 11, 30, 16, 1, 30, tzinfo=UTC)
    assert sender(november, receiver, clock, "next").tick(clock()) == [(None, "2026-11")]


def test_a_claim_whose_process_died_is_taken_over_after_its_lease(
    sessions: sessionmaker[Session],
) -> None:
    claimed_at = datetime(2026, 12, 1, tzinfo=UTC)
    lease = report_store.CLAIM_LEASE
    with sessions.begin() as db:  # "dead" claims both, finishes one, then dies
        for scope in ("*", "demo-hut"):
            assert report_store.claim_send(
                db, month="2026-11", scope=scope, now=claimed_at, worker="dead"
            )
        report_store.mark_sent(db, month="2026-11", scope="*", message_id=None, now=claimed_at)
    within = claimed_at + lease - timedelta(seconds=1)
    after = claimed_at + lease + timedelta(seconds=1)
    with sessions.begin() as db:
        assert report_store.claimed(db, "2026-11", now=within) == {"*", "demo-hut"}
        assert not report_store.claim_send(
            db, month="2026-11", scope="demo-hut", now=within, worker="alive"
        )
        assert report_store.claimed(db, "2026-11", now=after) == {"*"}
    with sessions.begin() as db:
        for scope, taken in (("*", False), ("demo-hut", True)):
            won = report_store.claim_send(
                db, month="2026-11", scope=scope, now=after, worker="alive"
            )
            assert won is taken
    with sessions() as db:
        row = db.get(MonthlyReportSend, ("2026-11", "demo-hut"))
        assert row is not None and row.claimed_by == "alive" and row.done_at is None
