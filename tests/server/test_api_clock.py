"""The clock routes: absent (404) unless the settings enable them, admins only, a move
checked and bounded with a 422 that never echoes what was sent, audited, and seen at once
by every route of the app (it reads the same clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.clock import MAX_OFFSET, TEXT_TOO_FAR_IN_ALL, OffsetClock
from server.clock_moves import AUDIT_ACTION
from server.clock_settings import ClockSettings
from server.domain.roles import Role
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Item, Loan, Member
from server.storage.staff_models import AuditEntry
from tests.support.staff_auth import staff_headers, staff_name

from .conftest import T0, MovableClock

ENABLED = ServerSettings(clock=ClockSettings(enabled=True))


@pytest.fixture
def clock(clock: MovableClock) -> OffsetClock:
    """The test's clock under an offset, as a server process with the setting has it."""
    return OffsetClock(clock)


@pytest.fixture
def client(engine: Engine, clock: OffsetClock) -> Iterator[TestClient]:
    seed_demo(engine)
    with TestClient(create_app(ENABLED, clock=clock, engine=engine)) as test:
        yield test


@pytest.fixture
def admin(sessions: sessionmaker[Session]) -> dict[str, str]:
    return staff_headers(sessions, Role.ADMIN)


def test_without_the_setting_the_routes_are_absent_for_everyone(
    engine: Engine, sessions: sessionmaker[Session], admin: dict[str, str]
) -> None:
    app = create_app(ServerSettings(), clock=MovableClock(), engine=engine)
    with TestClient(app) as plain:
        for headers in ({}, admin):
            assert plain.get("/api/v1/clock", headers=headers).status_code == 404
            moved = plain.post("/api/v1/clock", json={"advance": "4d"}, headers=headers)
            assert moved.status_code == 404
        assert "/api/v1/clock" not in plain.get("/openapi.json").json()["paths"]


def test_a_clock_that_cannot_move_is_refused_when_the_setting_is_on(engine: Engine) -> None:
    with pytest.raises(ValueError, match="OffsetClock"):
        create_app(ENABLED, clock=MovableClock(), engine=engine)


def test_only_admins_read_or_move_it(
    client: TestClient, sessions: sessionmaker[Session], clock: OffsetClock
) -> None:
    assert client.get("/api/v1/clock").status_code == 401
    for role in (Role.VIEWER, Role.STAFF):
        headers = staff_headers(sessions, role)
        assert client.get("/api/v1/clock", headers=headers).status_code == 403
        moved = client.post("/api/v1/clock", json={"advance": "4d"}, headers=headers)
        assert moved.status_code == 403
    assert clock.offset == timedelta(0)


def test_an_admin_moves_it_forward_audited_and_every_route_sees_it(
    client: TestClient, sessions: sessionmaker[Session], admin: dict[str, str]
) -> None:
    with sessions.begin() as db:  # the drill, lent at T0 for three days
        item = db.scalars(select(Item).where(Item.tag == "T0001")).one()
        zhang = db.scalars(select(Member).where(Member.name == "张阿姨")).one()
        item.status = "on_loan"
        db.add(
            Loan(
                item=item,
                member=zhang,
                hut_id=item.hut_id,
                borrowed_at=T0,
                due_at=T0 + timedelta(days=3),
            )
        )
    assert client.get("/api/v1/clock", headers=admin).json() == {
        "now": "2026-11-27T02:00:00Z",
        "offset_s": 0.0,
        "offset": "0s",
    }
    assert client.get("/api/v1/loans?status=overdue").json()["data"] == []

    moved = client.post("/api/v1/clock", json={"advance": "+4d"}, headers=admin)
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"now": "2026-12-01T02:00:00Z", "offset_s": 345600.0, "offset": "4d"}
    again = client.post("/api/v1/clock", json={"advance_s": 7200}, headers=admin).json()
    assert again["offset"] == "4d 2h" and again["now"] == "2026-12-01T04:00:00Z"
    overdue = client.get("/api/v1/loans?status=overdue").json()["data"]
    assert [loan["tag"] for loan in overdue] == ["T0001"]

    with sessions() as db:
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION).order_by(AuditEntry.id)
        ).all()
    assert [(e.entity, e.entity_id, e.before, e.after) for e in entries] == [
        ("clock", "server", {"offset_s": 0.0}, {"offset_s": 345600.0, "advance_s": 345600.0}),
        (
            "clock",
            "server",
            {"offset_s": 345600.0},
            {"offset_s": 352800.0, "advance_s": 7200.0},
        ),
    ]
    assert {e.actor for e in entries} == {staff_name(sessions, admin)}
    assert entries[0].at == T0  # the time of the request, before its move
    listed = client.get(f"/api/v1/audit?action={AUDIT_ACTION}", headers=admin).json()
    assert listed["total"] == 2


SECRET = "13800138000"  # as if a phone number were pasted into the wrong field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"advance": f"{SECRET}d"}, "advance"),
        ({"advance": "-1d"}, "advance"),
        ({"advance": "0s"}, "advance"),
        ({"advance": "367d"}, "advance"),
        ({"advance": SECRET * 4}, "advance"),
        ({"advance_s": float(SECRET)}, "advance_s"),
        ({"advance_s": -60}, "advance_s"),
        ({"advance_s": 1e-9}, "advance_s"),
        ({"advance_s": "soon"}, "advance_s"),
        ({"advance": "4d", "advance_s": 60}, None),
        ({}, None),
        ({"advance": "4d", "phone": SECRET}, "phone"),
    ],
)
def test_a_bad_move_is_a_422_naming_the_field_without_its_value(
    client: TestClient,
    admin: dict[str, str],
    clock: OffsetClock,
    body: dict[str, object],
    field: str | None,
) -> None:
    answer = client.post("/api/v1/clock", json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert SECRET not in answer.text and "soon" not in answer.text
    errors = answer.json()["detail"]
    assert all(set(error) <= {"type", "loc", "msg"} for error in errors)
    if field is not None:
        assert [error["loc"][-1] for error in errors] == [field]
    else:
        assert "advance_s" in errors[0]["msg"]
    assert clock.offset == timedelta(0)


def test_a_move_past_the_bound_in_all_is_a_409(
    engine: Engine, sessions: sessionmaker[Session], admin: dict[str, str]
) -> None:
    near = OffsetClock(MovableClock(), offset=MAX_OFFSET - timedelta(days=1))
    with TestClient(create_app(ENABLED, clock=near, engine=engine)) as test:
        answer = test.post("/api/v1/clock", json={"advance": "2d"}, headers=admin)
        assert answer.status_code == 409
        assert answer.json()["detail"] == TEXT_TOO_FAR_IN_ALL
    assert near.offset == MAX_OFFSET - timedelta(days=1)
    with sessions() as db:
        assert db.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all() == []
