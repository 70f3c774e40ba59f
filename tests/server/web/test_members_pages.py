"""The console's member pages as a browser posts them: search and filters, add with a bad
field (the message beside it, the form refilled), edit with a stale version, suspend
without a reason refused, cards bound, reported lost and unbound, enrol by tap refused
without a broker, and a viewer who sees no edit form and gets the 403 page when posting."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import CardStatus, MemberStatus
from server.domain.roles import Role
from server.storage.models import Card, Hut, Member
from tests.support.console import Console

CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _member(db: Session, name: str, flat: str, *, phone: str | None = None) -> Member:
    member = Member(name=name, building_unit=flat, phone=phone, created_at=CREATED)
    db.add(member)
    db.flush()
    return member


def _seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as db:
        db.add(Hut(id="hut-a", name="东门工具屋"))
        db.add(Hut(id="hut-b", name="西门工具屋"))
        wang = _member(db, "王阿姨", "3-201", phone="13800001111")
        li = _member(db, "李先生", "5-302")
        li.status = MemberStatus.SUSPENDED
        db.add(Card(uid="04A1B2C3", member_id=wang.id, state=CardStatus.ACTIVE, bound_at=CREATED))
        return {"wang": wang.id, "li": li.id}


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="e-{re.escape(name)}">([^<]*)</p>', html)
    assert found, f"no message beside {name}"
    return found.group(1)


def test_the_list_searches_by_name_phone_flat_and_card_and_filters_by_status(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _seed(sessions)
    viewer = signed_in(Role.VIEWER)
    everyone = viewer.get("/console/members")
    assert everyone.status_code == 200
    assert "王阿姨" in everyone.text and "李先生" in everyone.text
    for q in ("王", "1111", "3-201", "a1b2"):
        page = viewer.get("/console/members", params={"q": q})
        assert "王阿姨" in page.text and "李先生" not in page.text, q
    suspended = viewer.get("/console/members?status=suspended")
    assert "李先生" in suspended.text and "王阿姨" not in suspended.text
    assert 'data-label="' in everyone.text and 'class="list"' in everyone.text
    assert "添加住户" not in everyone.text  # a viewer is offered no add button


def test_a_bad_query_parameter_gives_the_page_with_a_message(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _seed(sessions)
    viewer = signed_in(Role.VIEWER)
    page = viewer.get("/console/members?offset=abc&status=gone&hut=%2F%2F")
    assert page.status_code == 422
    assert "王阿姨" in page.text  # the list is still shown, the bad filters left out
    assert "Traceback" not in page.text
    assert _field_error(page.text, "status") and _field_error(page.text, "hut")
    assert viewer.get("/console/members/abc").status_code == 404
    assert viewer.get("/console/members/999999").status_code == 404


def test_add_with_a_bad_phone_says_so_beside_it_and_keeps_what_was_typed(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _seed(sessions)
    staff = signed_in(Role.STAFF)
    staff.get("/console/members/new")
    refused = staff.post(
        "/console/members/new",
        {"name": "赵先生", "building_unit": "", "phone": "call me", "language": "zh"},
    )
    assert refused.status_code == 422
    assert "电话号码" in _field_error(refused.text, "phone")
    assert _field_error(refused.text, "building_unit") == "请填写此项。"
    assert 'value="赵先生"' in refused.text
    added = staff.post(
        "/console/members/new",
        {
            "name": "赵先生",
            "building_unit": "6-101",
            "phone": "+86 139 0000 2222",
            "language": "en",
            "flags": "senior",
            "huts": ["hut-a"],
            "contacts.0.channel": "sms",
            "contacts.0.address": "13900002222",
            "contacts.0.locale": "zh",
        },
    )
    assert added.status_code == 303, added.text
    page = staff.get(added.headers["location"])
    assert "赵先生" in page.text and "13900002222" in page.text and "hut-a" in page.text
    with sessions() as db:
        member = db.scalars(select(Member).where(Member.name == "赵先生")).one()
        assert member.flags == {"senior"} and member.language == "en"


def test_an_edit_from_a_stale_version_is_refused_and_says_so(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    staff = signed_in(Role.STAFF)
    form = staff.get(f"/console/members/{ids['wang']}/edit")
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version
    fields = {"name": "王阿姨", "building_unit": "3-202", "language": "zh"}
    first = staff.post(
        f"/console/members/{ids['wang']}/edit", {**fields, "version": version.group(1)}
    )
    assert first.status_code == 303
    again = staff.post(
        f"/console/members/{ids['wang']}/edit",
        {**fields, "building_unit": "3-203", "version": version.group(1)},
    )
    assert again.status_code == 409
    assert "记录已被他人修改" in again.text
    with sessions() as db:
        assert db.get(Member, ids["wang"]).building_unit == "3-202"  # type: ignore[union-attr]


def test_suspend_needs_a_reason_then_reactivate(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    staff = signed_in(Role.STAFF)
    path = f"/console/members/{ids['wang']}"
    staff.get(path)
    refused = staff.post(f"{path}/suspend", {"reason": "  "})
    assert refused.status_code == 422
    assert _field_error(refused.text, "reason")
    with sessions() as db:
        assert db.get(Member, ids["wang"]).status is MemberStatus.ACTIVE  # type: ignore[union-attr]
    done = staff.post(f"{path}/suspend", {"reason": "多次逾期未还"})
    assert done.status_code == 303
    page = staff.get(path)
    assert "多次逾期未还" in page.text and "恢复" in page.text
    assert staff.post(f"{path}/reactivate").status_code == 303
    with sessions() as db:
        member = db.get(Member, ids["wang"])
        assert member is not None and member.status is MemberStatus.ACTIVE


def test_cards_are_bound_reported_lost_and_unbound(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    staff = signed_in(Role.STAFF)
    path = f"/console/members/{ids['li']}"
    staff.get(path)
    bad = staff.post(f"{path}/cards", {"uid": "not a card"})
    assert bad.status_code == 422 and _field_error(bad.text, "uid")
    taken = staff.post(f"{path}/cards", {"uid": "04a1b2c3"})
    assert taken.status_code == 409 and "此卡已登记给一位住户" in taken.text
    assert staff.post(f"{path}/cards", {"uid": "0E0E0E0E"}).status_code == 303
    assert staff.post(f"{path}/cards/lost", {"uid": "0E0E0E0E"}).status_code == 303
    with sessions() as db:
        card = db.scalars(select(Card).where(Card.uid == "0E0E0E0E")).one()
        assert card.state is CardStatus.LOST and card.member_id == ids["li"]
    other = staff.post(f"{path}/cards/remove", {"uid": "04A1B2C3"})  # someone else's
    assert other.status_code == 404
    assert staff.post(f"{path}/cards/remove", {"uid": "0E0E0E0E"}).status_code == 303
    with sessions() as db:
        assert db.scalars(select(Card).where(Card.uid == "0E0E0E0E")).first() is None


def test_enrol_by_tap_without_a_broker_is_refused_on_the_page(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    staff = signed_in(Role.STAFF)
    path = f"/console/members/{ids['wang']}"
    page = staff.get(path)
    assert "刷卡登记" in page.text
    no_hut = staff.post(f"{path}/enrol", {"hut": ""})
    assert no_hut.status_code == 422
    refused = staff.post(f"{path}/enrol", {"hut": "hut-a"})
    assert refused.status_code == 503
    assert "暂时无法联系工具屋" in refused.text  # the reason, on the member's page


def test_a_viewer_sees_no_edit_form_and_is_refused_when_posting_anyway(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ids = _seed(sessions)
    viewer = signed_in(Role.VIEWER)
    path = f"/console/members/{ids['wang']}"
    page = viewer.get(path)
    assert page.status_code == 200 and "04A1B2C3" in page.text
    assert f'action="{path}/' not in page.text  # no form of the member's
    assert viewer.get(f"{path}/edit").status_code == 403
    assert viewer.get("/console/members/new").status_code == 403
    for action, data in (
        ("suspend", {"reason": "x"}),
        ("cards", {"uid": "0F0F0F0F"}),
        ("cards/lost", {"uid": "04A1B2C3"}),
        ("enrol", {"hut": "hut-a"}),
        ("edit", {"name": "x", "building_unit": "1", "version": "1"}),
    ):
        answer = viewer.post(f"{path}/{action}", data)
        assert answer.status_code == 403, action
        assert "Traceback" not in answer.text
    with sessions() as db:
        member = db.get(Member, ids["wang"])
        assert member is not None and member.status is MemberStatus.ACTIVE
        assert [card.state for card in member.cards] == [CardStatus.ACTIVE]
