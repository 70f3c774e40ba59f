"""The console's loans page through a TestClient, on both databases: open and overdue
loans, the hut filter and the search, pages, bad query values, and staff's remind now,
renew (with the policy's refusal beside the loan), mark returned and mark lost, each
audited; a viewer sees no buttons and is refused posting anyway."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import ItemStatus
from server.domain.roles import Role
from server.storage.models import Hut, Item, Loan, Member
from server.storage.staff_models import AuditEntry
from tests.server.conftest import T0
from tests.support.console import Console

Browser = Callable[[Role], Console]


@pytest.fixture
def loans(sessions: sessionmaker[Session]) -> dict[str, int]:
    """At the east hut 王阿姨 has a drill, overdue by two days, and 55 spanners due next
    week; at the west hut 李先生 has a ladder due in three days. The loans' ids by tag."""
    with sessions.begin() as db:
        db.add_all([Hut(id="east", name="东区工具屋"), Hut(id="west", name="西区工具屋")])
        wang = Member(name="王阿姨", building_unit="3-201")
        li = Member(name="李先生", building_unit="5-602")
        db.add_all([wang, li])
        lent = [
            ("DR-1", "电钻", "Drill", "power_tools", "east", wang, -2),
            ("LD-1", "梯子", "Ladder", "ladders", "west", li, 3),
            *(
                (f"HT-{n:03d}", f"扳手{n}", f"Spanner {n}", "hand_tools", "east", wang, 7)
                for n in range(55)
            ),
        ]
        ids = {}
        for tag, zh, en, category, hut, member, due_in in lent:
            item = Item(
                tag=tag,
                name_zh=zh,
                name_en=en,
                category=category,
                hut_id=hut,
                status=ItemStatus.ON_LOAN,
            )
            db.add(item)
            db.flush()
            loan = Loan(
                item_id=item.id,
                member=member,
                hut_id=hut,
                borrowed_at=T0 - timedelta(days=5),
                due_at=T0 + timedelta(days=due_in),
            )
            db.add(loan)
            db.flush()
            ids[tag] = loan.id
        return ids


def _tags(html: str) -> list[str]:
    return re.findall(r'<a href="/console/items/([A-Z0-9-]+)">', html)


def test_open_and_overdue_loans_by_hut_and_search(
    signed_in: Browser, loans: dict[str, int]
) -> None:
    console = signed_in(Role.VIEWER)
    every = console.get("/console/loans")
    assert every.status_code == 200
    assert _tags(every.text)[:2] == ["DR-1", "LD-1"]  # soonest due first
    assert "王阿姨" in every.text and "逾期" in every.text
    assert "共 57 条" in every.text  # 50 on this page, the pager for the rest
    assert _tags(console.get("/console/loans?state=overdue").text) == ["DR-1"]
    assert _tags(console.get("/console/loans?hut=west").text) == ["LD-1"]
    assert _tags(console.get("/console/loans?q=李先生").text) == ["LD-1"]
    assert _tags(console.get("/console/loans?q=5-602").text) == ["LD-1"]
    assert _tags(console.get("/console/loans?q=drill").text) == ["DR-1"]
    second = console.get("/console/loans?offset=50")
    assert len(_tags(second.text)) == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=late", "state"), ("hut=nowhere", "hut"), ("offset=abc", "offset"), ("q=a%01", "q")],
)
def test_a_bad_query_value_is_named_and_the_loans_still_show(
    signed_in: Browser, loans: dict[str, int], query: str, field: str
) -> None:
    page = signed_in(Role.VIEWER).get(f"/console/loans?{query}")
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert f'id="e-{field}"' in page.text and "DR-1" in page.text


def _audited(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_staff_mark_a_loan_returned_and_another_lost(
    signed_in: Browser, loans: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    staff = signed_in(Role.STAFF)
    staff.get("/console/loans?state=overdue")
    back = staff.post(
        f"/console/loans/{loans['DR-1']}/returned", {"back": "state=overdue&hut=east"}
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/console/loans?state=overdue&hut=east&done=returned"
    page = staff.get(back.headers["location"])
    assert "已标记为归还" in page.text and "DR-1" not in _tags(page.text)
    lost = staff.post(f"/console/loans/{loans['LD-1']}/lost", {"back": ""})
    assert lost.status_code == 303 and lost.headers["location"] == "/console/loans?done=lost"
    with sessions() as db:
        drill = db.get(Loan, loans["DR-1"])
        ladder = db.get(Loan, loans["LD-1"])
        assert drill is not None and drill.returned_at == T0 and drill.returned_hut_id == "east"
        assert drill.item.status is ItemStatus.AVAILABLE
        assert ladder is not None and ladder.lost_at == T0
        assert ladder.item.status is ItemStatus.LOST
    assert [e.entity_id for e in _audited(sessions, "loan.returned")] == [str(loans["DR-1"])]
    assert len(_audited(sessions, "loan.lost")) == 1
    again = staff.post(f"/console/loans/{loans['DR-1']}/returned", {"back": ""})
    assert again.status_code == 409 and "Traceback" not in again.text


def test_renew_until_the_policy_refuses_with_the_reason_beside_the_loan(
    signed_in: Browser, loans: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    staff = signed_in(Role.STAFF)
    loan = loans["HT-000"]
    staff.get("/console/loans")
    back = {"back": "hut=east&q=HT-000"}
    renewed = staff.post(f"/console/loans/{loan}/renew", back)
    assert renewed.status_code == 303
    assert renewed.headers["location"] == "/console/loans?hut=east&q=HT-000&done=renewed"
    for _ in range(10):
        answer = staff.post(f"/console/loans/{loan}/renew", back)
        if answer.status_code != 303:
            break
    assert answer.status_code == 409
    assert f'id="e-loan-{loan}"' in answer.text and "续借" in answer.text
    with sessions() as db:
        row = db.get(Loan, loan)
        assert row is not None and row.renewals >= 1 and row.returned_at is None
    assert len(_audited(sessions, "loan.renew")) == row.renewals


def test_remind_now_reminds_the_borrower_and_says_so(
    signed_in: Browser, loans: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    staff = signed_in(Role.STAFF)
    staff.get("/console/loans")
    done = staff.post(f"/console/loans/{loans['LD-1']}/remind", {"back": ""})
    assert done.status_code == 303 and done.headers["location"] == "/console/loans?done=reminded"
    assert "已向借用人发送提醒" in staff.get(done.headers["location"]).text
    assert len(_audited(sessions, "member.remind")) == 1
    staff.post(f"/console/loans/{loans['LD-1']}/returned", {"back": ""})
    nothing = staff.post(f"/console/loans/{loans['LD-1']}/remind", {"back": ""})
    assert nothing.status_code == 409 and "没有需要提醒的未还物品" in nothing.text
    unknown = staff.post("/console/loans/99999999999/renew", {"back": ""})
    assert unknown.status_code == 404 and "Traceback" not in unknown.text


def test_a_viewer_sees_no_buttons_and_is_refused_posting(
    signed_in: Browser, loans: dict[str, int], sessions: sessionmaker[Session]
) -> None:
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/loans")
    assert "/returned" not in page.text and "/renew" not in page.text
    for verb in ("remind", "renew", "returned", "lost"):
        refused = viewer.post(f"/console/loans/{loans['DR-1']}/{verb}", {"back": ""})
        assert refused.status_code == 403
    with sessions() as db:
        drill = db.get(Loan, loans["DR-1"])
        assert drill is not None and drill.returned_at is None and drill.renewals == 0
