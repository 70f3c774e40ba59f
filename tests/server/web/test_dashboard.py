"""The console's dashboard (/console) through a TestClient, on SQLite and PostgreSQL: for
every role (a viewer too; signed out: the sign-in page), each hut's state and the open
alarms newest first, the counts right for a known ledger (built from gateway events, as
the huts make it), the charts' figures (JSON, and the same as tables on the page), and a
fixed number of queries however many huts there are. The live updates in a browser:
tests/e2e/test_console_dashboard.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.ledger import apply_event
from server.seed import seed_demo
from server.storage import hut_states, queries
from server.storage.hut_states import StatusReport
from server.storage.models import Hut
from server.web.dashboard_view import CHART_TTL
from tests.server.conftest import T0, MovableClock
from tests.server.factories import alarm, card, scan
from tests.support.console import Console
from toolhut.contract import AlarmKind, DoorState, GatewayState, Status, new_id

HUT = "demo-hut"
OTHER = "east-hut"
ANNA, BO = "04A1B2C3", "04D5E6F7"  # the demo's two residents


def visit(db: Session, hut: Hut, seq: int, uid: str, tags: list[str], at: Any) -> int:
    """A resident's visit at ``at``: a card, then each tag scanned (a borrow, or a return
    of what is out); the next seq."""
    session = new_id()
    apply_event(db, card(hut.id, seq, uid, ts=at, session=session), hut=hut, received_at=at)
    for tag in tags:
        seq += 1
        taken = scan(hut.id, seq, tag, card=uid, ts=at, session=session)
        apply_event(db, taken, hut=hut, received_at=at)
    return seq + 1


@pytest.fixture
def ledger(sessions: sessionmaker[Session]) -> None:
    """T0 is Friday 27 November 2026, 10:00 in Shanghai; its week began Monday the 23rd.

    Open: T0001 (power drill, 3 days) since 13 Nov: overdue; T0003 (ladder, 1 day) since
    07:00 today; T0005 (dumbbells) since August: overdue, before the charts' 12 weeks.
    Returned: T0007 (screwdrivers), borrowed and back this morning. Supplies (the demo's):
    gauze 4 of minimum 5 (low); a batch of plasters expires on 15 December (soon)."""
    with sessions.begin() as db:
        seed_demo(db)
        seed_demo(db, hut_id=OTHER)
        hut = queries.get_hut(db, HUT)
        assert hut is not None
        seq = visit(db, hut, 1, BO, ["T0005"], T0 - timedelta(days=100))
        seq = visit(db, hut, seq, ANNA, ["T0001"], T0 - timedelta(days=14))
        seq = visit(db, hut, seq, ANNA, ["T0003"], T0 - timedelta(hours=3))
        seq = visit(db, hut, seq, BO, ["T0007"], T0 - timedelta(hours=2))
        seq = visit(db, hut, seq, BO, ["T0007"], T0 - timedelta(hours=1))  # back
        apply_event(db, alarm(HUT, seq, ts=T0 - timedelta(minutes=30)), hut=hut, received_at=T0)
        other = queries.get_hut(db, OTHER)
        assert other is not None
        held = alarm(OTHER, 1, AlarmKind.HELD_OPEN, ts=T0 - timedelta(minutes=5))
        apply_event(db, held, hut=other, received_at=T0 - timedelta(minutes=5))
        status = Status(
            hut=HUT, state=GatewayState.ONLINE, ts=T0, door=DoorState.OPEN, lock="unlocked",
            controller="ok", outbox=4, alarms=[AlarmKind.FORCED_OPEN],
        )  # fmt: skip
        hut_states.record_statuses(db, [StatusReport(status, T0 - timedelta(minutes=20))])


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def count_of(html: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', html)
    assert found, element_id
    return int(found.group(1))


def test_signed_out_the_dashboard_sends_to_the_sign_in_page(browser: Any) -> None:
    console: Console = browser()
    for path in ("/console", "/console/dashboard/charts.json"):
        answer = console.client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/sign-in?next=/console")


@pytest.mark.usefixtures("ledger")
def test_a_viewer_sees_the_counts_of_the_ledger_each_linked_to_its_list(signed_in: Any) -> None:
    console: Console = signed_in(Role.VIEWER)
    page = console.get("/console")
    assert page.status_code == 200
    html = page.text
    assert count_of(html, "count-on-loan") == 3
    assert count_of(html, "count-overdue") == 2
    assert count_of(html, "count-low") == 1
    assert count_of(html, "count-expiring") == 1
    for link in (
        "/console/loans?state=open",
        "/console/loans?state=overdue",
        "/console/supplies?state=low",
        "/console/supplies?state=expiring",
    ):
        assert f'href="{link}"' in html
    words = text_of(html)
    assert "借出中的物品" in words and "逾期的借用" in words  # Chinese first
    assert "/static/site/console/dashboard.js" in html and "<script>" not in html


@pytest.mark.usefixtures("ledger")
def test_each_hut_is_a_card_and_the_open_alarms_are_on_top_newest_first(
    signed_in: Any,
) -> None:
    html = signed_in(Role.VIEWER).get("/console").text
    demo = html[html.index('data-hut="demo-hut"') :]
    demo = demo[: demo.index("</article>")]
    words = text_of(demo)
    assert "在线" in words and "自 2026-11-27 09:40" in words
    assert "门 开着" in words and "锁 未上锁" in words
    assert "⚠ 门被强行打开" in words and "待上传的事件 4" in words
    east = html[html.index('data-hut="east-hut"') :]
    east = east[: east.index("</article>")]
    assert "is-offline" in html[html.index('data-hut="east-hut"') - 80 :][:120]
    assert "从未上报" in text_of(east)
    alarms = html[html.index('id="alarm-rows"') : html.index("</tbody>", html.index("alarm-rows"))]
    rows = re.findall(r'data-alarm="(\d+)"', alarms)
    assert len(rows) == 2 and int(rows[0]) > int(rows[1])  # the east hut's is newer
    first = text_of(alarms[: alarms.index("</tr>")])
    assert "门未关好" in first and "east-hut 工具屋" in first and "2026-11-27 09:55" in first
    assert html.index('id="alarm-rows"') < html.index('id="count-on-loan"')
    english = signed_in(Role.VIEWER).get("/console?lang=en").text
    assert "Door forced open" in text_of(english) and "Open alarms" in english


@pytest.mark.usefixtures("ledger")
def test_the_charts_json_gives_loans_per_week_and_by_category(signed_in: Any) -> None:
    console: Console = signed_in(Role.VIEWER)
    answer = console.get("/console/dashboard/charts.json")
    assert answer.status_code == 200
    charts = answer.json()
    weeks = charts["weeks"]
    assert len(weeks["labels"]) == 12 and weeks["labels"][-1] == "11-23"
    assert weeks["labels"][-3] == "11-09"
    assert weeks["values"] == [0] * 9 + [1, 0, 2]  # the drill; the ladder and screwdrivers
    assert weeks["title"] == "最近 12 周每周借出次数" and weeks["series"] == "借出次数"
    categories = charts["categories"]
    assert categories["values"] == [1, 1, 1]
    assert set(categories["labels"]) == {"电动工具", "梯子", "手动工具"}
    english = console.get("/console/dashboard/charts.json?lang=en").json()
    assert english["weeks"]["series"] == "Number of loans"
    # The same figures as tables on the page (without JavaScript too).
    html = console.get("/console").text
    figures = re.findall(r'<table class="list figures">(.*?)</table>', html, re.S)
    assert len(figures) == 2
    assert "11-23" in figures[0] and re.search(r"11-23</td><td[^>]*>2<", figures[0])
    assert "梯子" in figures[1]


def test_the_dashboard_takes_the_same_queries_for_two_huts_or_twenty(
    signed_in: Any, engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    console: Console = signed_in(Role.STAFF)

    def queries_for_page() -> int:
        clock.advance(CHART_TTL * 2)  # the charts' figures read again too
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", seen)
        try:
            assert console.get("/console").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return len(statements)

    def add_huts(first: int, last: int) -> None:
        with sessions.begin() as db:
            for n in range(first, last):
                db.add(Hut(id=f"hut-{n:02}", name=f"工具屋 {n}"))
            db.flush()
            for n in range(first, last):
                hut = queries.get_hut(db, f"hut-{n:02}")
                assert hut is not None
                apply_event(db, alarm(hut.id, 1, ts=T0), hut=hut, received_at=T0)

    add_huts(0, 2)
    few = queries_for_page()
    add_huts(2, 20)
    assert queries_for_page() == few


def test_the_charts_figures_are_kept_until_a_new_loan_or_a_minute_has_passed(
    signed_in: Any, engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    console: Console = signed_in(Role.VIEWER)

    def charts() -> tuple[list[int], int]:
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", seen)
        try:
            values = console.get("/console/dashboard/charts.json").json()["weeks"]["values"]
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return values[-1], sum("GROUP BY" in statement for statement in statements)

    with sessions.begin() as db:
        seed_demo(db)
        hut = queries.get_hut(db, HUT)
        assert hut is not None
        visit(db, hut, 1, ANNA, ["T0001"], T0 - timedelta(hours=1))
    assert charts() == (1, 2)  # read: per week, per category
    assert charts() == (1, 0)  # kept
    with sessions.begin() as db:
        hut = queries.get_hut(db, HUT)
        assert hut is not None
        visit(db, hut, 3, BO, ["T0003"], T0)
    assert charts() == (2, 2)  # a new loan: read again at once
    clock.advance(CHART_TTL / 2)
    assert charts() == (2, 0)
    clock.advance(CHART_TTL)
    assert charts() == (2, 2)  # a minute on: read again whatever happened


@pytest.fixture
def empty(sessions: sessionmaker[Session]) -> Iterator[None]:
    yield


@pytest.mark.usefixtures("empty")
def test_with_nothing_yet_the_page_says_so(signed_in: Any) -> None:
    html = signed_in(Role.VIEWER).get("/console").text
    words = text_of(html)
    assert "暂无未处理的告警" in words or "没有未处理的告警" in words
    assert 'id="alarm-table" hidden' in html
