"""The console's micro-wishes and partner organisations: staff enter a wish from paper and
take it through the four steps on its page (a bad field named beside it, a step out of
turn refused with its reason), a partner's donation shows on the partner's page; viewers
read and write nothing; staff edit a partner (an edit from a stale page refused with
the current values); on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.seed import seed_demo
from server.storage.models import Item, Member
from server.storage.staff_models import AuditEntry
from server.storage.wish_models import Partner, Wish
from tests.support.console import Console


def _residents(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as db:
        seed_demo(db)
    with sessions() as db:
        return {m.name: m.id for m in db.scalars(select(Member))}


def _wish_id(location: str) -> int:
    found = re.fullmatch(r"/console/wishes/(\d+)\?done=created", location)
    assert found is not None, location
    return int(found.group(1))


def test_staff_take_a_paper_wish_through_the_four_steps(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    residents = _residents(sessions)
    zhang, li = residents["张阿姨"], residents["李师傅"]
    staff = signed_in(Role.STAFF)
    assert "录入心愿" in staff.get("/console/wishes").text

    blank = staff.post("/console/wishes", {"title": "", "channel": "paper"})
    assert blank.status_code == 422 and 'id="e-title"' in blank.text
    made = staff.post(
        "/console/wishes",
        {"title": "希望有一台电锤", "detail": "装空调打孔", "hut": "demo-hut",
         "channel": "paper", "proposed_by": str(zhang)},
    )  # fmt: skip
    assert made.status_code == 303
    wish_id = _wish_id(made.headers["location"])
    url = f"/console/wishes/{wish_id}"
    page = staff.get(made.headers["location"])
    assert "心愿已录入" in page.text and "张阿姨" in page.text

    assert staff.post(f"{url}/supports", {"member_id": str(li)}).status_code == 303
    early = staff.post(f"{url}/handling", {"outcome": "bought"})
    assert early.status_code == 422 and "议事会商议后才能办理" in early.text

    no_date = staff.post(f"{url}/deliberation", {"decision": "请合伙人捐赠"})
    assert no_date.status_code == 422 and 'id="e-meeting_on"' in no_date.text
    assert "请合伙人捐赠" in no_date.text  # what was typed is kept
    ok = staff.post(f"{url}/deliberation", {"meeting_on": "2026-11-30", "decision": "请合伙人捐赠"})
    assert ok.status_code == 303 and "议事会的商议已记录" in staff.get(ok.headers["location"]).text

    added = staff.post("/console/partners", {"name": "幸福里物业", "services": "维修"})
    assert added.status_code == 303
    partner_id = int(added.headers["location"].split("/")[-1].split("?")[0])
    no_partner = staff.post(f"{url}/handling", {"outcome": "donated"})
    assert no_partner.status_code == 422 and 'id="e-partner_id"' in no_partner.text
    handled = staff.post(
        f"{url}/handling", {"outcome": "donated", "partner_id": str(partner_id), "item": "T0002"}
    )
    assert handled.status_code == 303

    bad_score = staff.post(f"{url}/ratings", {"member_id": str(zhang), "score": "9"})
    assert bad_score.status_code == 422 and 'id="e-score"' in bad_score.text
    rated = staff.post(f"{url}/ratings", {"member_id": str(li), "score": "5", "comment": "很好"})
    assert rated.status_code == 303
    final = staff.get(url).text
    assert "已评价" in final and "5 / 5" in final and "很好" in final and "幸福里物业" in final
    with sessions() as db:
        wish = db.get(Wish, wish_id)
        item = db.scalar(select(Item).where(Item.tag == "T0002"))
        assert wish is not None and wish.status == "evaluated"
        assert item is not None and item.partner_id == partner_id
    partner = staff.get(f"/console/partners/{partner_id}").text
    assert "T0002" in partner and "希望有一台电锤" in partner
    listed = staff.get("/console/wishes?status=evaluated").text
    assert "希望有一台电锤" in listed


def test_viewers_read_the_wishes_and_partners_and_post_nothing(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _residents(sessions)
    staff = signed_in(Role.STAFF)
    staff.get("/console/wishes")
    wish_url = staff.post("/console/wishes", {"title": "希望有一个梯子"}).headers["location"]
    viewer = signed_in(Role.VIEWER)
    wishes = viewer.get("/console/wishes")
    assert wishes.status_code == 200 and "希望有一个梯子" in wishes.text
    assert "录入心愿" not in wishes.text
    page = viewer.get(wish_url.split("?")[0])
    assert page.status_code == 200 and "记录商议" not in page.text
    assert viewer.post("/console/wishes", {"title": "x"}).status_code == 403
    assert viewer.get("/console/partners").status_code == 200
    assert viewer.post("/console/partners", {"name": "x"}).status_code == 403
    assert viewer.get("/console/wishes/424242").status_code == 404
    assert viewer.get("/console/partners/424242").status_code == 404


def test_a_path_that_is_no_row_id_is_the_not_found_page(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _residents(sessions)
    viewer = signed_in(Role.VIEWER)
    for path in ("/console/wishes/99999999999999999999", "/console/wishes/abc",
                 "/console/wishes/²", "/console/partners/99999999999999999999"):  # fmt: skip
        page = viewer.get(path)
        assert page.status_code == 404 and "没有这个" in page.text, path
    staff = signed_in(Role.STAFF)
    staff.get("/console/wishes")
    assert staff.post("/console/wishes/99999999999999999999/ratings", {}).status_code == 404


def test_staff_edit_a_partner_and_an_edit_from_a_stale_page_shows_the_current_values(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    _residents(sessions)
    staff = signed_in(Role.STAFF)
    staff.get("/console/partners")
    added = staff.post("/console/partners", {"name": "幸福里物业", "services": "维修"})
    url = added.headers["location"].split("?")[0]
    staff.post("/console/partners", {"name": "阳光志愿队"})
    page = staff.get(url).text
    assert 'name="version" value="1"' in page and "修改合伙人信息" in page
    form = {"name": "幸福里物业公司", "services": "维修、捐赠", "contact": "王经理 138",
            "notes": "每月一次", "active": "1", "version": "1"}  # fmt: skip
    saved = staff.post(f"{url}/edit", form)
    assert saved.status_code == 303
    now = staff.get(saved.headers["location"]).text
    assert "幸福里物业公司" in now and "维修、捐赠" in now and 'name="version" value="2"' in now

    other = signed_in(Role.STAFF)
    other.get(url)  # read at version 2
    staff.post(f"{url}/edit", {**form, "version": "2", "active": ""})  # no longer a partner
    stale = other.post(f"{url}/edit", {**form, "notes": "改了备注", "version": "2"})
    assert stale.status_code == 409 and "别人已保存" in stale.text
    assert "改了备注" not in stale.text and 'name="version" value="3"' in stale.text

    blank = staff.post(f"{url}/edit", {**form, "name": "", "version": "3"}, page=url)
    assert blank.status_code == 422 and 'id="e-name"' in blank.text
    assert "王经理 138" in blank.text  # what was typed is kept
    taken = staff.post(f"{url}/edit", {**form, "name": "阳光志愿队", "version": "3"})
    assert taken.status_code == 422 and 'id="e-name"' in taken.text
    with sessions() as db:
        partner = db.get(Partner, int(url.rsplit("/", 1)[1]))
        assert partner is not None and partner.version == 3 and partner.active is False
        assert partner.notes == "每月一次"
        edits = db.scalars(select(AuditEntry).where(AuditEntry.action == "partner.update"))
        assert len(list(edits)) == 2

    viewer = signed_in(Role.VIEWER)
    seen = viewer.get(url)
    assert seen.status_code == 200 and "修改合伙人信息" not in seen.text
    assert viewer.post(f"{url}/edit", {**form, "version": "3"}).status_code == 403
    assert staff.post("/console/partners/424242/edit", {**form}).status_code == 404
