"""The console's micro-wishes and partner organisations: staff enter a wish from paper and
take it through the four steps on its page (a bad field named beside it, a step out of
turn refused with its reason), a partner's donation shows on the partner's page; viewers
read and write nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.seed import seed_demo
from server.storage.models import Item, Member
from server.storage.wish_models import Wish
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
