"""The monthly report from a known stream, through every real process (``toolhut server``
with a movable clock, ``toolhut emulator`` on a pty, ``toolhut gateway``, Mosquitto): a
resident borrows a drill and a ladder and brings the ladder back at the hut; the report of
the month (``toolhut server report``) has those figures in its CSV and its Chinese PDF;
then the server's clock is moved to the next month's first day and the month's report is
kept and told to the staff channel by the server itself."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.clock_settings import ENABLED_ENV
from server.domain.roles import Role
from server.reports.figures import Month
from server.storage import make_engine, make_sessionmaker
from tests.server.receivers import WebhookReceiver, webhook_receiver
from tests.server.reports.pdf_readback import bar_pixels, first_page, pdf_text
from tests.support.hut_stack import HUT, ZHANG, HutStack, hut_stack, visit
from tests.support.processes import http_json, poll_until, run_toolhut
from tests.support.staff_auth import staff_headers

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
SENT_WITHIN = 30.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as found:
        yield found


def server_env(receiver: WebhookReceiver) -> dict[str, str]:
    reminders = {
        "channels": {"staff": f"{receiver.apprise_base}/staff"},
        "stock_alerts": False,
        "quiet_start": "00:00",
        "quiet_end": "00:00",
    }
    return {
        ENABLED_ENV: "true",
        "TOOLHUT_SERVER_REMINDERS": json.dumps(reminders),
        "TOOLHUT_SERVER_REPORTS__POLL_S": "0.5",
    }


def session(stack: HutStack, *tags: str) -> list[str]:
    """Zhang's visit, a scan of each tag: the hut's answers, each a yes."""
    assert stack.emulator is not None
    answers = visit(stack.emulator, ZHANG, *tags)
    assert all(beep == "ok" for beep, _ in answers), answers
    return [text for _, text in answers]


def rows(data: bytes) -> dict[tuple[str, str, str], str]:
    return {
        (r["section"], r["measure"], r["key"]): r["value"]
        for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    }


def fetch(stack: HutStack, path: str) -> bytes:
    request = urllib.request.Request(f"{stack.base}{path}", headers=stack.staff_headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our server)
        return bytes(response.read())


def admin_headers(stack: HutStack) -> dict[str, str]:
    """Only an admin may read and move the server's clock."""
    engine = make_engine(stack.db_url)
    try:
        return staff_headers(make_sessionmaker(engine), Role.ADMIN)
    finally:
        engine.dispose()


def report_posts(receiver: WebhookReceiver, month: str) -> list[dict[str, Any]]:
    with receiver.lock:
        return [
            post
            for path, post in receiver.posts
            if path.startswith("/staff") and f"Tool hut monthly report {month}" in post["message"]
        ]


def test_the_months_report_has_the_streams_figures_and_is_sent_on_the_first(
    tmp_path: Path, topic_prefix: str, receiver: WebhookReceiver
) -> None:
    with hut_stack(tmp_path, topic_prefix, server_env=server_env(receiver)) as stack:
        assert "电钻" in session(stack, "T0001", "T0003")[0]
        assert "梯子" in session(stack, "T0003")[0]  # the ladder back
        stack.wait_all_delivered()
        admin = admin_headers(stack)
        clock = f"{stack.base}/api/v1/clock"
        now = datetime.fromisoformat(http_json(clock, headers=admin)["now"])
        month = Month.of(now.astimezone(SHANGHAI).date())

        out = tmp_path / "report"
        made = run_toolhut(
            "server", "report", "--db", stack.db_url, "--month", str(month), "--hut", HUT,
            "--out", str(out),
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        stem = f"toolhut-report-{month}-{HUT}"
        figures = rows((out / f"{stem}.csv").read_bytes())
        assert figures[("loans", "total", "")] == "2"
        assert figures[("top_items", "loans", "T0001")] == "1"
        assert figures[("top_items", "loans", "T0003")] == "1"
        assert figures[("loans_by_category", "loans", "power_tools")] == "1"
        assert figures[("loans_by_category", "loans", "ladders")] == "1"
        assert ("never_borrowed", "loans", "T0001") not in figures
        assert ("never_borrowed", "loans", "T0002") in figures
        pdf = (out / f"{stem}.zh_CN.pdf").read_bytes()
        text = pdf_text(pdf)
        assert "共享工具屋月度报告" in text and "电钻" in text and "梯子" in text
        assert "张阿姨" not in text and ZHANG not in text
        assert bar_pixels(first_page(pdf)) > 1000

        # To one minute past midnight of the next month's first day, in Shanghai.
        first = Month.of(now.astimezone(SHANGHAI).date()).next().first_day
        target = datetime(first.year, first.month, first.day, 0, 1, tzinfo=SHANGHAI)
        ahead = int((target - now) / timedelta(seconds=1)) + 1
        http_json(clock, headers=admin, method="POST", body={"advance": f"{ahead}s"})
        [post] = poll_until(
            lambda: [p for p in report_posts(receiver, str(month)) if HUT in p["message"]],
            timeout=SENT_WITHIN,
            what="the month's report told to the staff channel",
        )
        assert "借用 2 次" in post["message"] and "/console/reports" in post["message"]
        kept = poll_until(
            lambda: [
                r
                for r in stack.staff("/api/v1/reports")["data"]
                if r["month"] == str(month) and r["hut_id"] == HUT
            ],
            what="the sent report kept",
        )
        assert sorted(r["language"] for r in kept) == ["en", "zh_CN"]
        assert rows(fetch(stack, kept[0]["csv_url"]))[("loans", "total", "")] == "2"
        zh = next(r for r in kept if r["language"] == "zh_CN")
        assert "电钻" in pdf_text(fetch(stack, zh["pdf_url"]))
