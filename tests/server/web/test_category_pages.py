"""The console's item categories: the list shows every category's policy and how many items
use it; staff add one and edit one through the records code (audited as the API's), and the
ledger lends and queues by the new policy afterwards; a bad field is named beside it and
nothing is written; a stale edit is refused with the current values; viewers read and post
nothing; a form without its CSRF token writes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.domain.actors import Actor
from server.domain.model import MemberFlag, MemberStatus
from server.domain.roles import Role
from server.records import items
from server.records.items import ItemUpdate
from server.seed import seed_demo
from server.storage.models import (
    Card,
    Item,
    ItemCategory,
    Loan,
    Member,
    MemberFlagRow,
    Reservation,
)
from server.storage.staff_models import AuditEntry
from tests.server.conftest import T0
from tests.server.test_ledger_flows import Hut1
from tests.support.console import Console

ZHANG, LI, WANG = "04A1B2C3", "04D5E6F7", "04AA0060"
NEW = {
    "key": "garden_tools", "name_zh": "园艺工具", "name_en": "Garden tools", "loan_days": "5",
    "max_renewals": "1", "max_per_member": "2", "hold_hours": "12",
}  # fmt: skip
POWER_TOOLS = {
    "name_zh": "电动工具", "name_en": "Power tools", "loan_days": "9", "max_renewals": "1",
    "max_per_member": "2", "hold_hours": "24", "senior_first": "1", "version": "1",
}  # fmt: skip


@pytest.fixture
def hut(sessions: sessionmaker[Session]) -> Hut1:
    """The demo hut, with 王大爷 (flagged 60+) beside the demo's residents."""
    with sessions.begin() as db:
        seed_demo(db)
        wang = Member(name="王大爷", building_unit="1-101", status=MemberStatus.ACTIVE)
        wang.flag_rows = [MemberFlagRow(flag=MemberFlag.SENIOR)]
        db.add_all([wang, Card(uid=WANG, member=wang)])
    return Hut1(sessions)


def _errors(html: str) -> dict[str, str]:
    """The messages beside the fields of a page: field name -> text."""
    return dict(re.findall(r'<p class="error" id="e-([\w.]+)">([^<]*)</p>', html))


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as db:
        rows = db.scalar(select(func.count()).select_from(ItemCategory))
        entries = db.scalar(select(func.count()).select_from(AuditEntry))
        return rows or 0, entries or 0


def _loan_period(sessions: sessionmaker[Session], tag: str) -> timedelta:
    with sessions() as db:
        loan = db.scalars(select(Loan).join(Item).where(Item.tag == tag)).one()
        return loan.due_at - loan.borrowed_at


def test_the_list_shows_every_category_its_policy_and_its_items(
    signed_in: Callable[[Role], Console], hut: Hut1
) -> None:
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/categories")
    assert page.status_code == 200
    assert 'href="/console/categories"' in page.text  # in the menu
    assert "60 岁以上的居民在等候名单中优先" in page.text
    row = re.search(r'<a href="/console/categories/power_tools">.*?</tr>', page.text, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    # After the key: names, 3 days (60+: 3 + 2), 1 renewal, 2 at once, a 24 h hold, not
    # 60+ first, 3 items.
    texts = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
    assert texts == ["电动工具", "Power tools", "3", "5", "1", "2", "24", "否", "3"]
    assert "添加类别" not in page.text and 'action="/console/categories"' not in page.text


def test_staff_add_a_category_and_an_item_moved_into_it_is_lent_by_its_policy(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session], hut: Hut1
) -> None:
    staff = signed_in(Role.STAFF)
    assert "添加类别" in staff.get("/console/categories").text
    added = staff.post("/console/categories", NEW)
    assert added.status_code == 303
    assert added.headers["location"] == "/console/categories/garden_tools?done=added"
    page = staff.get(added.headers["location"]).text
    assert "类别已添加" in page and "园艺工具" in page and 'name="version" value="1"' in page
    with sessions.begin() as db:
        row = db.get(ItemCategory, "garden_tools")
        assert row is not None and (row.loan_days, row.hold_hours) == (5, 12)
        assert row.senior_first is False
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "category.create")).one()
        assert entry.entity_id == "garden_tools" and entry.after is not None
        assert entry.after["loan_days"] == 5 and entry.actor.startswith("staff-")
        ladder = items.find(db, "T0003").item
        moved = ItemUpdate(category="garden_tools", version=ladder.version)
        items.update(db, "T0003", moved, expected=ladder.version, actor=Actor("t"), now=T0)
    hut.visit(LI)
    hut.scan("T0003")
    hut.close()
    assert _loan_period(sessions, "T0003") == timedelta(days=5)  # a ladder's is 1 day
    listed = staff.get("/console/categories").text
    assert '<a href="/console/categories/garden_tools">' in listed


@pytest.mark.parametrize("senior_first", [True, False])
def test_an_edit_changes_the_due_date_and_the_waiting_order_the_ledger_uses(
    signed_in: Callable[[Role], Console],
    sessions: sessionmaker[Session],
    hut: Hut1,
    senior_first: bool,
) -> None:
    staff = signed_in(Role.STAFF)
    url = "/console/categories/power_tools"
    staff.get(url)
    form = {**POWER_TOOLS, "senior_first": "1"} if senior_first else dict(POWER_TOOLS)
    if not senior_first:
        del form["senior_first"]
        form["loan_days"] = "4"
    saved = staff.post(f"{url}/edit", form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{url}?done=saved"
    assert "类别已保存" in staff.get(saved.headers["location"]).text
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "category.update")).one()
        assert entry.entity_id == "power_tools" and entry.before and entry.after
        assert (entry.before["loan_days"], entry.after["loan_days"]) == (3, int(form["loan_days"]))
        assert entry.after["senior_first"] is senior_first

    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    assert _loan_period(sessions, "T0001") == timedelta(days=int(form["loan_days"]))
    with sessions.begin() as db:
        staff_actions.reserve(db, tag="T0001", card=LI, now=T0 + timedelta(minutes=1))
        staff_actions.reserve(db, tag="T0001", card=WANG, now=T0 + timedelta(minutes=2))
    hut.now += timedelta(hours=5)
    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    with sessions() as db:
        held = db.scalars(select(Reservation).where(Reservation.state == "held")).one()
        assert held.member.name == ("王大爷" if senior_first else "李师傅")


def test_bad_fields_are_named_beside_them_and_nothing_is_written(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session], hut: Hut1
) -> None:
    staff = signed_in(Role.STAFF)
    staff.get("/console/categories")
    before = _counts(sessions)
    cases = {
        "key": ({**NEW, "key": ""}, "请填写此项"),
        "loan_days": ({**NEW, "loan_days": "-2"}, "1"),
        "max_renewals": ({**NEW, "max_renewals": "two"}, "整数"),
        "name_zh": ({**NEW, "name_zh": "园" * 201}, "200"),
    }
    for name, (form, words) in cases.items():
        refused = staff.post("/console/categories", form)
        assert refused.status_code == 422, name
        errors = _errors(refused.text)
        assert list(errors) == [name] and words in errors[name], (name, errors)
        assert 'value="Garden tools"' in refused.text  # what was typed is kept
    taken = staff.post("/console/categories", {**NEW, "key": "ladders"})
    assert taken.status_code == 422 and "该类别已存在" in _errors(taken.text)["key"]
    assert _counts(sessions) == before

    url = "/console/categories/power_tools"
    staff.get(url)
    bad = {**POWER_TOOLS, "name_en": "", "hold_hours": "0"}
    refused = staff.post(f"{url}/edit", bad)
    assert refused.status_code == 422
    assert set(_errors(refused.text)) == {"name_en", "hold_hours"}
    assert 'value="9"' in refused.text  # the typed loan days are kept
    with sessions() as db:
        row = db.get(ItemCategory, "power_tools")
        assert row is not None
        assert (row.version, row.loan_days, row.name_en) == (1, 3, "Power tools")
    assert _counts(sessions) == before


def test_an_edit_from_a_stale_page_shows_the_current_values(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session], hut: Hut1
) -> None:
    url = "/console/categories/power_tools"
    first, second = signed_in(Role.STAFF), signed_in(Role.STAFF)
    first.get(url)
    second.get(url)
    assert first.post(f"{url}/edit", POWER_TOOLS).status_code == 303
    stale = second.post(f"{url}/edit", {**POWER_TOOLS, "loan_days": "30"})
    assert stale.status_code == 409 and "别人已保存" in stale.text
    assert 'name="version" value="2"' in stale.text and 'value="30"' not in stale.text
    with sessions() as db:
        row = db.get(ItemCategory, "power_tools")
        assert row is not None and (row.version, row.loan_days) == (2, 9)


def test_viewers_read_and_post_nothing_and_a_form_needs_its_token(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session], hut: Hut1
) -> None:
    before = _counts(sessions)
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/categories/power_tools")
    assert page.status_code == 200 and "电动工具" in page.text
    assert "修改类别" not in page.text
    viewer.get("/console/password")  # a page with a form: its token
    assert viewer.post("/console/categories", NEW).status_code == 403
    assert viewer.post("/console/categories/power_tools/edit", POWER_TOOLS).status_code == 403
    for path in (
        "/console/categories/nope",
        "/console/categories/Bad-Key",
        "/console/categories/" + "a" * 40,
    ):
        assert viewer.get(path).status_code == 404, path

    staff = signed_in(Role.STAFF)
    staff.get("/console/categories")
    forged = staff.client.post(
        "/console/categories", data={**NEW, "csrf_token": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 403
    no_token = staff.client.post(
        "/console/categories/power_tools/edit", data=POWER_TOOLS, follow_redirects=False
    )
    assert no_token.status_code == 403
    assert _counts(sessions) == before


def test_two_staff_adding_one_key_at_once_the_second_is_told_beside_the_key(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session], hut: Hut1
) -> None:
    """The other's row is committed between this form's check and its insert: the
    primary key refuses it, named beside the key, the first one's row left as it was."""
    staff = signed_in(Role.STAFF)
    staff.get("/console/categories")

    raced: list[str] = []

    def the_other_first(db: Session, *_: object) -> None:
        """Just before this form's row is inserted, the other's is committed."""
        if raced or not any(isinstance(row, ItemCategory) for row in db.new):
            return
        raced.append("garden_tools")
        with sessions.begin() as other:
            other.add(ItemCategory(key="garden_tools", name_zh="别人的", name_en="Other's",
                                   loan_days=2, max_renewals=0, max_per_member=1,
                                   hold_hours=4, version=1))  # fmt: skip

    event.listen(Session, "before_flush", the_other_first)
    try:
        refused = staff.post("/console/categories", NEW)
    finally:
        event.remove(Session, "before_flush", the_other_first)
    assert raced, "the form's insert was never flushed"
    assert refused.status_code == 422 and "该类别已存在" in _errors(refused.text)["key"]
    with sessions() as db:
        row = db.get(ItemCategory, "garden_tools")
        assert row is not None and row.name_zh == "别人的"
        created = select(AuditEntry).where(AuditEntry.action == "category.create")
        assert db.scalars(created).all() == []
