"""Staff's access routes: members suspended and reactivated, cards added, removed, lost."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.storage.models import Card
from server.storage.staff_models import AuditEntry
from tests.support.staff_auth import staff_headers

from .test_api import client  # noqa: F401  the fixture


def _member(sessions: sessionmaker[Session], uid: str) -> int:
    with sessions() as session:
        return session.scalars(select(Card.member_id).where(Card.uid == uid)).one()


def test_staff_change_who_may_open_the_huts(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    staff: dict[str, str],
) -> None:
    staff = staff_headers(sessions, Role.STAFF)
    zhang = _member(sessions, "04A1B2C3")
    assert client.post(f"/api/v1/members/{zhang}/suspend").status_code == 401
    suspended = client.post(f"/api/v1/members/{zhang}/suspend", headers=staff).json()
    assert suspended == {
        "id": zhang,
        "status": "suspended",
        "cards": [{"uid": "04A1B2C3", "member_id": zhang, "state": "active"}],
    }
    reactivated = client.post(f"/api/v1/members/{zhang}/reactivate", headers=staff).json()
    assert reactivated["status"] == "active"

    added = client.post(f"/api/v1/members/{zhang}/cards", json={"uid": "0c0ffee0"}, headers=staff)
    assert added.status_code == 201
    assert added.json() == {"uid": "0C0FFEE0", "member_id": zhang, "state": "active"}
    lost = client.post("/api/v1/cards/0C0FFEE0/lost", headers=staff).json()
    assert lost["state"] == "lost"
    assert client.delete("/api/v1/cards/0C0FFEE0", headers=staff).status_code == 204
    assert client.post("/api/v1/cards/0C0FFEE0/lost", headers=staff).status_code == 404
    # Each write is audited, filed under the member (the card is theirs).
    with sessions() as db:
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.entity_id) for e in entries] == [
        ("member.suspend", str(zhang)),
        ("member.reactivate", str(zhang)),
        ("card.add", str(zhang)),
        ("card.lost", str(zhang)),
        ("card.remove", str(zhang)),
    ]
    assert entries[2].after == {"card": "0C0FFEE0", "state": "active"}


def test_bad_requests_get_a_clear_bilingual_answer(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    staff: dict[str, str],
) -> None:
    staff = staff_headers(sessions, Role.STAFF)
    zhang = _member(sessions, "04A1B2C3")
    missing = client.post("/api/v1/members/99999/suspend", headers=staff)
    assert missing.status_code == 404 and "没有这位住户" in missing.json()["detail"]
    taken = client.post(f"/api/v1/members/{zhang}/cards", json={"uid": "04D5E6F7"}, headers=staff)
    assert taken.status_code == 409 and "已登记" in taken.json()["detail"]
    bad = client.post(f"/api/v1/members/{zhang}/cards", json={"uid": "not-a-card"}, headers=staff)
    assert bad.status_code == 422
    # The shape the OpenAPI document promises for every 422 (schemathesis found a string).
    [error] = bad.json()["detail"]
    assert error["loc"] == ["body", "uid"] and "hex digits" in error["msg"]
