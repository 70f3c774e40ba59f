"""Members and cards for staff: every route and role, the checks naming each field, the
version check, leaving, the personal-data export and the erasure of a member who left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.domain.roles import Role
from server.storage import access_changes
from server.storage.audit import REDACTED
from server.storage.models import Card, Hut, Loan, Member, Reservation
from server.storage.reminder_models import DisplayMessage
from server.storage.staff_models import AuditEntry

from .conftest import T0
from .test_api import client  # noqa: F401  the fixture

MEMBERS = "/api/v1/members"
NEW = {
    "name": "王大爷",
    "building_unit": "7-101",
    "phone": "+86 138-1234-5678",
    "language": "zh",
    "flags": ["60+"],
    "contacts": [{"channel": "email", "address": "wang@example.org", "locale": "zh"}],
}


@pytest.fixture
def told(client: TestClient) -> Iterator[list[int]]:  # noqa: F811
    """One entry each time a commit of the app's session factory changed who may open a hut."""
    calls: list[int] = []
    stop = access_changes.listen(client.app.state.sessions, lambda: calls.append(1))  # type: ignore[attr-defined]
    yield calls
    stop()


def _member_of(sessions: sessionmaker[Session], uid: str) -> int:
    with sessions() as db:
        return db.scalars(select(Card.member_id).where(Card.uid == uid)).one()


def _audit(sessions: sessionmaker[Session], member_id: int) -> list[AuditEntry]:
    with sessions() as db:
        query = select(AuditEntry).where(
            AuditEntry.entity == "member", AuditEntry.entity_id == str(member_id)
        )
        return list(db.scalars(query.order_by(AuditEntry.id)))


def _errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(str(p) for p in e["loc"][1:]): e["msg"] for e in response.json()["detail"]}


def test_who_may_do_what(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    roles: dict[Role, dict[str, str]],
) -> None:
    zhang = _member_of(sessions, "04A1B2C3")
    reads = [MEMBERS, f"{MEMBERS}/{zhang}", "/api/v1/cards"]
    for path in reads:
        assert client.get(path).status_code == 401
        assert client.get(path, headers=roles[Role.VIEWER]).status_code == 200
    assert client.post(MEMBERS, json=NEW).status_code == 401
    assert client.post(MEMBERS, json=NEW, headers=roles[Role.VIEWER]).status_code == 403
    edit = {"name": "张阿姨", "version": 1}
    assert (
        client.patch(f"{MEMBERS}/{zhang}", json=edit, headers=roles[Role.VIEWER]).status_code == 403
    )
    assert client.post(f"{MEMBERS}/{zhang}/leave", headers=roles[Role.VIEWER]).status_code == 403
    assert client.post(f"{MEMBERS}/{zhang}/suspend", headers=roles[Role.VIEWER]).status_code == 403
    for path in (f"{MEMBERS}/{zhang}/personal-data",):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=roles[Role.STAFF]).status_code == 403
        assert client.get(path, headers=roles[Role.ADMIN]).status_code == 200
    erase = f"{MEMBERS}/{zhang}/erase"
    assert client.post(erase).status_code == 401
    assert client.post(erase, headers=roles[Role.STAFF]).status_code == 403
    for path in (f"{MEMBERS}/99999", f"{MEMBERS}/99999/personal-data"):
        assert client.get(path, headers=roles[Role.ADMIN]).status_code == 404
    assert client.post(f"{MEMBERS}/99999/leave", headers=roles[Role.STAFF]).status_code == 404
    assert client.post(f"{MEMBERS}/99999/erase", headers=roles[Role.ADMIN]).status_code == 404


def test_staff_create_read_and_list_members_with_their_ids(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    roles: dict[Role, dict[str, str]],
) -> None:
    with sessions.begin() as db:
        db.add(Hut(id="north-hut", name="北区工具屋"))
    created = client.post(MEMBERS, json={**NEW, "huts": ["north-hut"]}, headers=roles[Role.STAFF])
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["etag"] == f'"{body["version"]}"'
    assert body["phone"] == "13812345678"  # normalised
    assert body["flags"] == ["senior"] and body["huts"] == ["north-hut"]
    assert body["contacts"] == [{"channel": "email", "address": "wang@example.org", "locale": "zh"}]
    assert body["status"] == "active" and body["cards"] == [] and body["open_loans"] == 0
    assert body["created_at"] == "2026-11-27T02:00:00Z"
    wang = body["id"]

    viewer = roles[Role.VIEWER]
    card = client.post(
        f"{MEMBERS}/{wang}/cards", json={"uid": "0c0ffee0"}, headers=roles[Role.STAFF]
    )
    assert card.status_code == 201
    got = client.get(f"{MEMBERS}/{wang}", headers=viewer).json()
    assert got["cards"] == [
        {"uid": "0C0FFEE0", "state": "active", "bound_at": "2026-11-27T02:00:00Z"}
    ]

    zhang = _member_of(sessions, "04A1B2C3")
    zhang_read = client.get(f"{MEMBERS}/{zhang}", headers=viewer).json()
    assert zhang_read["open_loans"] == 1 and zhang_read["name"] == "张阿姨"

    def ids(**params: Any) -> list[int]:
        page = client.get(MEMBERS, params=params, headers=viewer)
        assert page.status_code == 200, page.text
        return [m["id"] for m in page.json()["data"]]

    everyone = ids()
    assert wang in everyone and zhang in everyone
    assert ids(q="0C0FF") == [wang]  # by a card's uid
    assert ids(q="1381234") == [wang]  # by phone
    assert ids(q="7-101") == [wang]
    assert ids(q="王") == [wang]
    assert wang in ids(flag="senior") and zhang not in ids(flag="staff")
    assert wang in ids(hut="north-hut") and wang not in ids(hut="demo-hut")
    assert zhang in ids(hut="north-hut")  # no huts listed: every hut
    assert ids(status="suspended") == []
    assert ids(sort="-id")[0] == wang
    names = [
        m["name"]
        for m in client.get(MEMBERS, params={"sort": "name"}, headers=viewer).json()["data"]
    ]
    assert names == sorted(names)
    page = client.get(MEMBERS, params={"limit": 1, "offset": 1}, headers=viewer).json()
    assert page["count"] == 1 and page["total"] == len(everyone)
    bad_sort = client.get(MEMBERS, params={"sort": "phone"}, headers=viewer)
    assert bad_sort.status_code == 422 and bad_sort.json()["detail"][0]["loc"] == ["query", "sort"]

    cards = client.get("/api/v1/cards", params={"member": wang}, headers=viewer).json()
    assert [c["uid"] for c in cards["data"]] == ["0C0FFEE0"]
    assert cards["data"][0]["member_id"] == wang
    lost = client.get("/api/v1/cards", params={"state": "lost"}, headers=viewer).json()
    assert lost["total"] == 0
    assert client.get("/api/v1/cards", params={"q": "04a1"}, headers=viewer).json()["total"] == 1


def test_bad_fields_are_each_named(
    client: TestClient,  # noqa: F811
    roles: dict[Role, dict[str, str]],
) -> None:
    staff = roles[Role.STAFF]
    bad = {
        "name": "",
        "building_unit": "3-201",
        "phone": "call me",
        "language": "fr",
        "flags": ["vip"],
        "contacts": [{"channel": "email", "address": "not-an-address"}],
    }
    errors = _errors(client.post(MEMBERS, json=bad, headers=staff))
    assert set(errors) == {"name", "phone", "language", "flags", "contacts.0.address"}
    assert "电话" in errors["phone"] and "vip" in errors["flags"]
    unknown_hut = client.post(MEMBERS, json={**NEW, "huts": ["ghost-hut"]}, headers=staff)
    assert "ghost-hut" in _errors(unknown_hut)["huts"]
    twice = [{"channel": "sms", "address": "138"}, {"channel": "sms", "address": "139"}]
    assert "contacts" in _errors(
        client.post(MEMBERS, json={**NEW, "contacts": twice}, headers=staff)
    )


def test_an_unknown_reminder_channel_is_named_when_channels_are_configured(
    client: TestClient,  # noqa: F811
    roles: dict[Role, dict[str, str]],
) -> None:
    client.app.state.settings.reminders.channels = {"sms": "json://localhost/{address}"}  # type: ignore[attr-defined]
    response = client.post(MEMBERS, json=NEW, headers=roles[Role.STAFF])
    assert "sms" in _errors(response)["contacts.0.channel"]


def test_edits_are_versioned_audited_and_huts_go_through_the_rule_book(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    roles: dict[Role, dict[str, str]],
    told: list[int],
) -> None:
    staff = roles[Role.STAFF]
    zhang = _member_of(sessions, "04A1B2C3")
    path = f"{MEMBERS}/{zhang}"
    etag = client.get(path, headers=staff).headers["etag"]
    assert client.patch(path, json={"name": "张阿姨"}, headers=staff).status_code == 428

    renamed = client.patch(
        path, json={"phone": "021 6123 4567"}, headers={**staff, "If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["phone"] == "02161234567"
    assert told == []  # a phone is not access
    stale = client.patch(path, json={"phone": "13900000000"}, headers={**staff, "If-Match": etag})
    assert stale.status_code == 409
    assert stale.json()["detail"]["version"] == renamed.json()["version"]
    # A version no record can have is stale too, not a database error.
    for huge in ('"99999999999999999999999"', '"2147483648"'):
        beyond = client.patch(
            path, json={"phone": "13911112222"}, headers={**staff, "If-Match": huge}
        )
        assert beyond.status_code == 409, beyond.text

    version = renamed.json()["version"]
    with sessions.begin() as db:
        db.add(Hut(id="north-hut", name="北区工具屋"))
    limited = client.patch(path, json={"huts": ["north-hut"], "version": version}, headers=staff)
    assert limited.status_code == 200 and limited.json()["huts"] == ["north-hut"]
    assert told == [1]  # the allowlists republish
    bad = client.patch(path, json={"huts": ["ghost"], "version": version + 1}, headers=staff)
    assert "huts" in _errors(bad)
    assert client.get(path, headers=staff).json()["version"] == version + 1  # nothing written

    entries = [e for e in _audit(sessions, zhang) if e.action == "member.update"]
    assert [e.after for e in entries] == [{"phone": "02161234567"}, {"huts": ["north-hut"]}]
    assert entries[0].before == {"phone": None} and entries[0].actor.startswith("staff-")


def test_suspend_with_a_reason_reactivate_clears_it(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    roles: dict[Role, dict[str, str]],
) -> None:
    staff = roles[Role.STAFF]
    zhang = _member_of(sessions, "04A1B2C3")
    suspended = client.post(
        f"{MEMBERS}/{zhang}/suspend", json={"reason": "逾期未还"}, headers=staff
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert client.get(f"{MEMBERS}/{zhang}", headers=staff).json()["status_reason"] == "逾期未还"
    assert client.post(f"{MEMBERS}/{zhang}/reactivate", headers=staff).status_code == 200
    read = client.get(f"{MEMBERS}/{zhang}", headers=staff).json()
    assert read["status"] == "active" and read["status_reason"] is None
    assert client.post(f"{MEMBERS}/{zhang}/suspend", headers=staff).status_code == 200  # no body
    actions = [e.action for e in _audit(sessions, zhang)]
    assert actions == ["member.suspend", "member.reactivate", "member.suspend"]


def test_a_member_with_items_on_loan_cannot_leave_until_they_are_back_or_lost(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    roles: dict[Role, dict[str, str]],
    told: list[int],
) -> None:
    staff = roles[Role.STAFF]
    li = _member_of(sessions, "04D5E6F7")
    with sessions.begin() as db:
        staff_actions.reserve(
            db, tag="T0001", card="04D5E6F7", now=T0
        )  # 李师傅 waits for the drill
    told.clear()
    refused = client.post(f"{MEMBERS}/{li}/leave", json={"reason": "搬家"}, headers=staff)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == {
        "reason": "open_loans",
        "text": "仍有 1 件物品未归还，请先归还或登记遗失 / 1 items are still on loan: "
        "return them or mark them lost first",
    }
    assert told == []  # the card still opens the hut: the ladder can come back
    member = client.get(f"{MEMBERS}/{li}", headers=staff).json()
    assert member["status"] == "active" and member["cards"] != []
    assert not [e for e in _audit(sessions, li) if e.action == "member.leave"]
    with sessions() as db:
        [ladder] = db.scalars(select(Loan.id).where(Loan.member_id == li)).all()
        assert db.scalars(select(Reservation.state).where(Reservation.member_id == li)).all() == [
            "waiting"
        ]

    lost = client.post(f"/api/v1/loans/{ladder}/lost", headers=staff)
    assert lost.status_code == 200, lost.text
    left = client.post(f"{MEMBERS}/{li}/leave", json={"reason": "搬家"}, headers=staff)
    assert left.status_code == 200, left.text
    body = left.json()
    assert body["status"] == "left" and body["status_reason"] == "搬家"
    assert body["cards"] == [] and body["open_loans"] == 0
    assert body["left_at"] == "2026-11-27T02:00:00Z"
    assert told == [1]
    with sessions() as db:
        assert db.scalars(select(Reservation.state).where(Reservation.member_id == li)).all() == [
            "cancelled"
        ]
    assert client.post(f"{MEMBERS}/{li}/leave", headers=staff).status_code == 200  # again: no-op
    [entry] = [e for e in _audit(sessions, li) if e.action == "member.leave"]
    assert entry.before is not None and entry.before["cards"] == ["04D5E6F7"]


def test_personal_data_export_and_the_erasure_of_a_member_who_left(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    roles: dict[Role, dict[str, str]],
) -> None:
    staff, admin = roles[Role.STAFF], roles[Role.ADMIN]
    wang = client.post(MEMBERS, json=NEW, headers=staff).json()["id"]
    client.post(f"{MEMBERS}/{wang}/cards", json={"uid": "0C0FFEE0"}, headers=staff)
    with sessions.begin() as db:
        db.add(DisplayMessage(member_id=wang, text="王大爷 请还梯子", created_at=T0))

    export = client.get(f"{MEMBERS}/{wang}/personal-data", headers=admin)
    assert export.status_code == 200
    assert export.headers["content-disposition"] == (
        f'attachment; filename="member-{wang}-personal-data.json"'
    )
    document = export.json()
    assert document["member"]["name"] == "王大爷" and document["member"]["phone"] == "13812345678"
    assert [c["uid"] for c in document["cards"]] == ["0C0FFEE0"]
    assert document["member"]["contacts"][0]["address"] == "wang@example.org"
    assert [e["action"] for e in document["audit"]] == ["member.create", "card.add"]
    assert document["display_messages"][0]["text"] == "王大爷 请还梯子"

    refused = client.post(f"{MEMBERS}/{wang}/erase", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["detail"]["reason"] == "cannot_erase"
    assert "left" in refused.json()["detail"]["missing"][0]
    zhang = _member_of(sessions, "04A1B2C3")
    assert client.post(f"{MEMBERS}/{zhang}/leave", headers=staff).status_code == 409  # a loan
    open_loan = client.post(f"{MEMBERS}/{zhang}/erase", headers=admin).json()["detail"]
    assert open_loan["missing"] == [
        "住户尚未办理离开 / the member has not left (status active)",
        "住户还有 1 件物品未归还 / the member still has 1 open loan(s)",
    ]

    assert client.post(f"{MEMBERS}/{wang}/leave", headers=staff).status_code == 200
    erased = client.post(f"{MEMBERS}/{wang}/erase", headers=admin)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["name"] == f"已注销住户 #{wang}"
    assert body["phone"] is None and body["building_unit"] == ""
    assert body["contacts"] == [] and body["cards"] == [] and body["flags"] == []
    assert body["erased_at"] == "2026-11-27T02:00:00Z"
    with sessions() as db:
        assert (
            db.scalars(select(DisplayMessage).where(DisplayMessage.member_id == wang)).all() == []
        )
        member = db.get(Member, wang)
        assert member is not None and member.erased_at is not None
    entries = _audit(sessions, wang)
    text = repr([(e.before, e.after) for e in entries])
    for personal in ("王大爷", "7-101", "13812345678", "wang@example.org", "0C0FFEE0", "senior"):
        assert personal not in text
    assert REDACTED in text
    assert entries[-1].action == "member.erase" and entries[-1].after == {
        "erased_at": "2026-11-27T02:00:00+00:00"
    }
    # Nothing about an erased member's access changes again, and no edit brings data back.
    again = client.post(f"{MEMBERS}/{wang}/cards", json={"uid": "0C0FFEE1"}, headers=staff)
    assert again.status_code == 409
    edit = client.patch(
        f"{MEMBERS}/{wang}", json={"name": "x", "version": body["version"]}, headers=staff
    )
    assert edit.status_code == 409


@pytest.mark.parametrize("path", ["/api/v1/members", "/api/v1/cards"])
def test_a_control_character_in_a_search_is_a_422_not_a_query(
    client: TestClient,  # noqa: F811
    roles: dict[Role, dict[str, str]],
    path: str,
) -> None:
    # A NUL reached PostgreSQL as part of the LIKE pattern and failed the request (500).
    response = client.get(path, params={"q": "a\x00b"}, headers=roles[Role.STAFF])
    assert response.status_code == 422
    assert "\x00" not in response.text
    assert client.get(path, params={"q": "ab"}, headers=roles[Role.STAFF]).status_code == 200
