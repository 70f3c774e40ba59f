"""Partner organisations and micro-wishes through the staff API, on SQLite and PostgreSQL:
a wish through all four steps (提议办评) with a partner's donation, each step refused out
of turn with its reason, bad fields named, every step audited, and the roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.actors import Actor
from server.domain.roles import Role
from server.domain.wishes import TEXT_WRONG_STEP, WishStatus, WishStepError
from server.records import wishes
from server.records.wishes import DeliberationFields
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Item, Member
from server.storage.staff_models import AuditEntry

from .conftest import T0, MovableClock


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as db:
        seed_demo(db)
    app = create_app(ServerSettings(), clock=clock, engine=engine, mqtt_connected=lambda: True)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def residents(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as db:
        return {m.name: m.id for m in db.scalars(select(Member))}


def _fields(response: object) -> list[str]:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    return [str(error["loc"][-1]) for error in detail]


def _actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        query = select(AuditEntry.action).where(AuditEntry.entity.in_(("wish", "partner", "item")))
        return list(db.scalars(query.order_by(AuditEntry.id)))


def test_a_wish_goes_through_the_four_steps_with_a_partners_donation(
    client: TestClient,
    roles: dict[Role, dict[str, str]],
    residents: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    staff = roles[Role.STAFF]
    zhang, li = residents["张阿姨"], residents["李师傅"]
    partner = client.post(
        "/api/v1/partners",
        json={
            "name": "幸福里物业",
            "services": "维修, 捐赠工具",
            "contact": "王经理 138 0000 0000",
        },
        headers=staff,
    )
    assert partner.status_code == 201, partner.text
    partner_id = partner.json()["id"]

    # 提: 张阿姨's wish, from the wish box; 李师傅 wants it too.
    created = client.post(
        "/api/v1/wishes",
        json={"title": "希望有一台电锤", "detail": "装空调打孔用", "hut": "demo-hut",
              "channel": "paper", "proposed_by": zhang},
        headers=staff,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    wish = created.json()
    assert wish["status"] == "proposed" and wish["proposed_at"] is not None
    url = f"/api/v1/wishes/{wish['id']}"
    supported = client.post(f"{url}/supports", json={"member_id": li}, headers=staff)
    assert supported.status_code == 200 and supported.json()["supporters"] == 1
    again = client.post(f"{url}/supports", json={"member_id": li}, headers=staff)
    assert again.json()["supporter_ids"] == [li]  # once each
    own = client.post(f"{url}/supports", json={"member_id": zhang}, headers=staff)
    assert own.status_code == 422 and _fields(own) == ["member_id"]

    # Out of turn: handled or rated before the meeting.
    early = client.post(f"{url}/handling", json={"outcome": "bought"}, headers=staff)
    assert early.status_code == 409 and early.json()["detail"]["reason"] == "proposed"
    assert early.json()["detail"]["text"] == TEXT_WRONG_STEP["handle"]
    rated_early = client.post(
        f"{url}/ratings", json={"member_id": zhang, "score": 5}, headers=staff
    )
    assert rated_early.status_code == 409

    # 议: the monthly meeting.
    clock.advance(timedelta(days=3))
    deliberated = client.post(
        f"{url}/deliberation",
        json={"meeting_on": "2026-11-30", "decision": "请合伙人捐赠一台"},
        headers=staff,
    )
    assert deliberated.status_code == 200, deliberated.text
    assert deliberated.json()["status"] == "deliberated"
    twice = client.post(
        f"{url}/deliberation", json={"meeting_on": "2026-12-01", "decision": "再议"}, headers=staff
    )
    assert twice.status_code == 409 and twice.json()["detail"]["reason"] == "deliberated"

    # 办: refused while incomplete, then the donation with the item now in the inventory.
    no_partner = client.post(f"{url}/handling", json={"outcome": "donated"}, headers=staff)
    assert no_partner.status_code == 422 and _fields(no_partner) == ["partner_id"]
    no_reason = client.post(f"{url}/handling", json={"outcome": "declined"}, headers=staff)
    assert no_reason.status_code == 422 and _fields(no_reason) == ["note"]
    unknown_item = client.post(
        f"{url}/handling",
        json={"outcome": "donated", "partner_id": partner_id, "item": "T9999"},
        headers=staff,
    )
    assert unknown_item.status_code == 422 and _fields(unknown_item) == ["item"]
    clock.advance(timedelta(days=7))
    handled = client.post(
        f"{url}/handling",
        json={"outcome": "donated", "partner_id": partner_id, "item": "t0002"},
        headers=staff,
    )
    assert handled.status_code == 200, handled.text
    body = handled.json()
    assert body["status"] == "handled" and body["outcome"] == "donated"
    with sessions() as db:
        item = db.scalar(select(Item).where(Item.tag == "T0002"))
        assert item is not None and item.partner_id == partner_id and body["item_id"] == item.id
    detail = client.get(f"/api/v1/partners/{partner_id}", headers=roles[Role.VIEWER]).json()
    assert detail["donated_items"] == ["T0002"] and detail["fulfilled_wishes"] == [wish["id"]]

    # 评: only the proposer and the supporters; a second rating replaces the first.
    stranger = residents["社区管理员"]
    outsider = client.post(
        f"{url}/ratings", json={"member_id": stranger, "score": 2}, headers=staff
    )
    assert outsider.status_code == 422 and _fields(outsider) == ["member_id"]
    for score in (0, 6):
        bad = client.post(f"{url}/ratings", json={"member_id": li, "score": score}, headers=staff)
        assert bad.status_code == 422 and _fields(bad) == ["score"]
    first = client.post(
        f"{url}/ratings", json={"member_id": zhang, "score": 3, "comment": "还行"}, headers=staff
    )
    assert first.status_code == 200 and first.json()["status"] == "evaluated"
    client.post(
        f"{url}/ratings", json={"member_id": zhang, "score": 5, "comment": "很好用"}, headers=staff
    )
    final = client.post(f"{url}/ratings", json={"member_id": li, "score": 4}, headers=staff).json()
    assert [(r["member_id"], r["score"]) for r in final["ratings"]] == [(zhang, 5), (li, 4)]
    assert final["average_score"] == 4.5 and final["evaluated_at"] is not None

    listed = client.get("/api/v1/wishes?status=evaluated", headers=roles[Role.VIEWER]).json()
    assert [w["id"] for w in listed["data"]] == [wish["id"]] and listed["data"][0][
        "supporters"
    ] == 1
    assert _actions(sessions) == [
        "partner.create", "wish.create", "wish.support", "wish.deliberate", "wish.handle",
        "item.donated", "wish.evaluate", "wish.rating", "wish.rating", "wish.rating",
    ]  # fmt: skip


def test_bad_wishes_and_partners_are_refused_with_the_field_named(
    client: TestClient, roles: dict[Role, dict[str, str]]
) -> None:
    staff = roles[Role.STAFF]
    cases = [
        ({"title": ""}, "title"),
        ({"title": "梯子", "hut": "no-such-hut"}, "hut"),
        ({"title": "梯子", "proposed_by": 999_999}, "proposed_by"),
        ({"title": "梯子", "channel": "fax"}, "channel"),
        ({"title": "梯\x00子"}, "title"),
        ({"title": "梯子", "status": "handled"}, "status"),  # not a field one sends
    ]
    for body, field in cases:
        response = client.post("/api/v1/wishes", json=body, headers=staff)
        assert response.status_code == 422 and _fields(response) == [field], (body, response.text)
    assert client.get("/api/v1/wishes/424242", headers=staff).status_code == 404
    assert client.post("/api/v1/partners", json={"name": "物业"}, headers=staff).status_code == 201
    same = client.post("/api/v1/partners", json={"name": " 物业 "}, headers=staff)
    assert same.status_code == 422 and _fields(same) == ["name"]
    assert client.get("/api/v1/partners/424242", headers=staff).status_code == 404


def test_viewers_read_staff_write_and_the_signed_out_see_nothing(
    client: TestClient, roles: dict[Role, dict[str, str]]
) -> None:
    body = {"title": "希望有一把电锯"}
    assert client.get("/api/v1/wishes").status_code == 401
    assert client.get("/api/v1/partners").status_code == 401
    assert client.post("/api/v1/wishes", json=body, headers=roles[Role.VIEWER]).status_code == 403
    made = client.post("/api/v1/wishes", json=body, headers=roles[Role.STAFF])
    assert made.status_code == 201 and made.json()["proposed_by_id"] is None  # anonymous
    read = client.get(f"/api/v1/wishes/{made.json()['id']}", headers=roles[Role.VIEWER])
    assert read.status_code == 200 and read.json()["title"] == "希望有一把电锯"


def test_a_step_taken_by_someone_else_meanwhile_is_refused_not_repeated(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    actor = Actor(name="test")
    with sessions.begin() as db:
        seed_demo(db)
        wish = wishes.create(db, wishes.WishFields(title="希望有一个梯子"), actor=actor, now=T0)
        wish_id = wish.id
    step = DeliberationFields(meeting_on=T0.date(), decision="买一个")
    late = sessions()
    seen = wishes.get(late, wish_id)  # read while it is still proposed
    assert seen.status is WishStatus.PROPOSED
    late.commit()  # no transaction held open across the other's write (SQLite would lock)
    with sessions.begin() as db:
        wishes.deliberate(db, wish_id, step, actor=actor, now=T0)
    with pytest.raises(WishStepError) as refused:
        # The late session still holds the proposed wish it read; the conditional UPDATE
        # matches nothing, and the refusal names the status the other step left.
        wishes._advance(  # noqa: SLF001
            late, seen, "deliberate", {"decision": "又一个"}, actor=actor, now=T0,
            audited=("status",),
        )  # fmt: skip
    assert refused.value.reason == "deliberated"
    late.rollback()
    late.close()
    with sessions() as db:
        assert wishes.get(db, wish_id).decision == "买一个"


def test_a_residents_wishes_are_in_their_data_export_and_their_texts_go_with_erasure(
    client: TestClient,
    roles: dict[Role, dict[str, str]],
    residents: dict[str, int],
    sessions: sessionmaker[Session],
) -> None:
    staff, admin = roles[Role.STAFF], roles[Role.ADMIN]
    li, zhang = residents["李师傅"], residents["张阿姨"]
    body = {"title": "希望有一把电锯", "detail": "给我残疾的儿子做木工", "proposed_by": li}
    wish = client.post("/api/v1/wishes", json=body, headers=staff).json()
    url = f"/api/v1/wishes/{wish['id']}"
    client.post(f"{url}/supports", json={"member_id": zhang}, headers=staff)
    client.post(
        f"{url}/deliberation", json={"meeting_on": "2026-11-30", "decision": "购买"}, headers=staff
    )
    client.post(f"{url}/handling", json={"outcome": "bought"}, headers=staff)
    for member, comment in ((li, "我腿脚不便，很方便"), (zhang, "不错")):
        client.post(
            f"{url}/ratings", json={"member_id": member, "score": 5, "comment": comment},
            headers=staff,
        )  # fmt: skip

    export = client.get(f"/api/v1/members/{li}/personal-data", headers=admin).json()
    assert [w["detail"] for w in export["wishes_proposed"]] == ["给我残疾的儿子做木工"]
    assert [r["comment"] for r in export["wish_ratings"]] == ["我腿脚不便，很方便"]

    assert client.post(f"/api/v1/members/{li}/leave", headers=staff).status_code == 200
    assert client.post(f"/api/v1/members/{li}/erase", headers=admin).status_code == 200
    after = client.get(url, headers=staff).json()
    assert after["detail"] == "" and after["title"] == "希望有一把电锯"  # the wish stays
    comments = {r["member_id"]: r["comment"] for r in after["ratings"]}
    assert comments == {li: "", zhang: "不错"}  # only the erased resident's text goes
    with sessions() as db:
        texts = [
            str(entry.before) + str(entry.after)
            for entry in db.scalars(select(AuditEntry).where(AuditEntry.entity == "wish"))
        ]
    assert not [t for t in texts if "残疾" in t or "腿脚" in t]
    assert [t for t in texts if "不错" in t]  # another resident's comment is kept
