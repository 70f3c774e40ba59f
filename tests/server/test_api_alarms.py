"""The staff API of what the system flagged: alarms, anomalies, sequence gaps and dead
letters listed (filters, pages, newest first), acknowledged and resolved with a note, the
state checked in the write itself, every step audited; a dead letter's payload for staff
only, shown safely."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.ledger import apply_event
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import event_log, queries
from server.storage.models import Hut
from server.storage.operations_models import Alarm
from server.storage.staff_models import AuditEntry
from tests.support.staff_auth import staff_headers, staff_name
from toolhut.contract import AlarmKind, Topics

from .conftest import T0, MovableClock
from .factories import alarm, scan

HUT = "demo-hut"
OTHER = "east-hut"
PREFIX = "alarms-api"


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    with sessions.begin() as db:
        seed_demo(db)
        seed_demo(db, hut_id=OTHER)
        huts = {hut.id: hut for hut in db.scalars(select(Hut))}
        for hut_id, event, minutes in [
            (HUT, alarm(HUT, 1, ts=T0), 0),
            (HUT, alarm(HUT, 2, AlarmKind.HELD_OPEN, ts=T0 + timedelta(minutes=1)), 1),
            (OTHER, alarm(OTHER, 1, AlarmKind.TAMPER, ts=T0 + timedelta(minutes=2)), 2),
            (HUT, scan(HUT, 3, "ZZZ-404", card=None), 3),
        ]:
            at = T0 + timedelta(minutes=minutes)
            apply_event(db, event, hut=huts[hut_id], received_at=at)
        event_log.add_gap(db, hut_id=HUT, kind="missing", first_seq=4, last_seq=6, at=T0)
        topics = Topics(PREFIX)
        queries.add_dead_letter(
            db,
            topic=topics.events(HUT),
            payload=b'{"card":"04A1B2C3"}\x00\x1b[31m\xe2\x80\xae',
            reason="invalid event: seq: Field required",
            received_at=T0,
        )
        queries.add_dead_letter(
            db, topic=topics.events(OTHER), payload=b"x", reason="bad", received_at=T0
        )
    settings = ServerSettings(topic_prefix=PREFIX)
    app = create_app(settings, clock=clock, engine=engine)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def viewer(sessions: sessionmaker[Session]) -> dict[str, str]:
    return staff_headers(sessions, Role.VIEWER)


def _ids(answer: dict[str, Any]) -> list[int]:
    return [row["id"] for row in answer["data"]]


def _alarm_id(sessions: sessionmaker[Session], kind: str) -> int:
    with sessions() as db:
        return db.scalars(select(Alarm.id).where(Alarm.kind == kind)).one()


def test_alarms_are_listed_newest_first_with_their_bilingual_names(
    client: TestClient, viewer: dict[str, str]
) -> None:
    answer = client.get("/api/v1/alarms", headers=viewer).json()
    assert [row["kind"] for row in answer["data"]] == ["tamper", "held_open", "forced_open"]
    assert answer["total"] == 3 and answer["count"] == 3
    forced = answer["data"][2]
    assert forced["label"] == "门被强行打开 / door forced open"
    assert (forced["hut"], forced["state"], forced["active"], forced["source"]) == (
        HUT,
        "open",
        True,
        "controller",
    )
    assert forced["acknowledged_by"] is None and forced["resolved_at"] is None
    oldest = client.get("/api/v1/alarms?sort=raised_at&limit=1", headers=viewer).json()
    assert [row["kind"] for row in oldest["data"]] == ["forced_open"] and oldest["total"] == 3


@pytest.mark.parametrize(
    ("query", "kinds"),
    [
        (f"hut={OTHER}", ["tamper"]),
        ("kind=held_open", ["held_open"]),
        ("state=active", ["tamper", "held_open", "forced_open"]),
        ("state=resolved", []),
        ("since=2026-11-27T02:01:00Z", ["tamper", "held_open"]),
        ("until=2026-11-27T02:01:00Z", ["forced_open"]),
    ],
)
def test_alarms_filter_by_hut_kind_state_and_time(
    client: TestClient, viewer: dict[str, str], query: str, kinds: list[str]
) -> None:
    answer = client.get(f"/api/v1/alarms?{query}", headers=viewer).json()
    assert [row["kind"] for row in answer["data"]] == kinds


def test_a_bad_filter_is_a_422_naming_it(client: TestClient, viewer: dict[str, str]) -> None:
    for query, field in [("kind=fire", "kind"), ("sort=hut", "sort"), ("since=yesterday", "since")]:
        response = client.get(f"/api/v1/alarms?{query}", headers=viewer)
        assert response.status_code == 422, query
        assert field in response.text
    response = client.get("/api/v1/anomalies?state=active", headers=viewer)
    assert response.status_code == 422 and "alarms only" in response.text


def test_staff_acknowledge_then_resolve_an_alarm_with_notes_each_audited(
    client: TestClient, sessions: sessionmaker[Session], staff: dict[str, str], clock: MovableClock
) -> None:
    alarm_id = _alarm_id(sessions, "forced_open")
    with sessions() as db:
        before = db.get(Alarm, alarm_id)
        assert before is not None
        updated_before = before.updated_at
    clock.advance(timedelta(minutes=5))
    path = f"/api/v1/alarms/{alarm_id}"
    acked = client.post(f"{path}/acknowledge", json={"note": "on my way"}, headers=staff)
    assert acked.status_code == 200, acked.text
    name = staff_name(sessions, staff)
    body = acked.json()
    assert (body["state"], body["acknowledged_by"], body["acknowledge_note"]) == (
        "acknowledged",
        name,
        "on my way",
    )
    assert body["updated_at"] > updated_before.isoformat().replace("+00:00", "Z")
    listed = client.get("/api/v1/alarms?state=acknowledged", headers=staff).json()
    assert _ids(listed) == [alarm_id]
    clock.advance(timedelta(minutes=10))
    done = client.post(f"{path}/resolve", json={"note": "  door was closed again  "}, headers=staff)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["resolved_by"], body["resolve_note"]) == (
        "resolved",
        name,
        "door was closed again",
    )
    assert body["acknowledged_by"] == name  # the earlier step stays on the row
    with sessions() as db:
        entries = list(
            db.scalars(
                select(AuditEntry).where(AuditEntry.entity == "alarm").order_by(AuditEntry.id)
            )
        )
    assert [(e.action, e.actor, e.entity_id) for e in entries] == [
        ("alarm.acknowledge", name, str(alarm_id)),
        ("alarm.resolve", name, str(alarm_id)),
    ]
    assert entries[0].before == {"state": "open"}
    assert entries[1].after == {"state": "resolved", "note": "door was closed again"}
    assert entries[1].at == T0 + timedelta(minutes=15)


def test_a_step_the_state_no_longer_allows_is_a_409_saying_why(
    client: TestClient, sessions: sessionmaker[Session], staff: dict[str, str]
) -> None:
    path = f"/api/v1/alarms/{_alarm_id(sessions, 'tamper')}"
    assert client.post(f"{path}/acknowledge", json={}, headers=staff).status_code == 200
    again = client.post(f"{path}/acknowledge", json={}, headers=staff)
    assert again.status_code == 409
    assert again.json()["detail"] == {
        "reason": "acknowledged",
        "text": "已有人确认 / already acknowledged",
    }
    assert client.post(f"{path}/resolve", json={"note": "fixed"}, headers=staff).status_code == 200
    for step, body in (("acknowledge", {}), ("resolve", {"note": "again"})):
        late = client.post(f"{path}/{step}", json=body, headers=staff)
        assert late.status_code == 409, step
        detail = late.json()["detail"]
        assert detail["reason"] == "resolved"
        assert detail["text"].startswith("已处理完毕") and " / already resolved" in detail["text"]
    with sessions() as db:
        count = len(list(db.scalars(select(AuditEntry).where(AuditEntry.entity == "alarm"))))
    assert count == 2  # the refused steps changed nothing and wrote nothing


def test_resolving_needs_a_note_of_bounded_length(
    client: TestClient, sessions: sessionmaker[Session], staff: dict[str, str]
) -> None:
    path = f"/api/v1/alarms/{_alarm_id(sessions, 'held_open')}"
    for body in ({}, {"note": ""}, {"note": "   "}, {"note": "x" * 501}, {"note": "a\x00b"}):
        response = client.post(f"{path}/resolve", json=body, headers=staff)
        assert response.status_code == 422, body
    long = client.post(f"{path}/acknowledge", json={"note": "x" * 501}, headers=staff)
    assert long.status_code == 422
    missing = client.post("/api/v1/alarms/999/acknowledge", json={}, headers=staff)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "没有这条记录 / no alarm 999"


def test_a_resolved_alarm_is_no_longer_told_to_staff(
    client: TestClient, sessions: sessionmaker[Session], staff: dict[str, str]
) -> None:
    alarm_id = _alarm_id(sessions, "forced_open")
    with sessions() as db:
        row = db.get(Alarm, alarm_id)
        assert row is not None and row.notify_due_at is not None  # due, not sent yet here
    client.post(f"/api/v1/alarms/{alarm_id}/resolve", json={"note": "test"}, headers=staff)
    with sessions() as db:
        row = db.get(Alarm, alarm_id)
        assert row is not None and row.notify_due_at is None


def test_anomalies_include_a_scan_by_nobody_and_are_reviewed_the_same_way(
    client: TestClient, staff: dict[str, str], viewer: dict[str, str]
) -> None:
    answer = client.get("/api/v1/anomalies?kind=scan_by_nobody", headers=viewer).json()
    [row] = answer["data"]
    assert row["label"] == "未刷卡的扫描 / a scan with no card and no session"
    assert row["detail"].endswith(": ZZZ-404") and row["member_id"] is None
    path = f"/api/v1/anomalies/{row['id']}"
    resolved = client.post(f"{path}/resolve", json={"note": "a child"}, headers=staff)
    assert resolved.status_code == 200
    assert client.get("/api/v1/anomalies?state=open", headers=viewer).json()["total"] == 0
    assert client.get("/api/v1/anomalies?state=resolved", headers=viewer).json()["total"] == 1


def test_sequence_gaps_are_listed_and_reviewed(
    client: TestClient, staff: dict[str, str], viewer: dict[str, str]
) -> None:
    [gap] = client.get(f"/api/v1/sequence-gaps?hut={HUT}", headers=viewer).json()["data"]
    assert (gap["kind"], gap["first_seq"], gap["last_seq"], gap["state"]) == (
        "missing",
        4,
        6,
        "open",
    )
    path = f"/api/v1/sequence-gaps/{gap['id']}"
    response = client.post(f"{path}/acknowledge", json={"note": "gateway swapped"}, headers=staff)
    assert response.json()["state"] == "acknowledged"
    assert client.get("/api/v1/sequence-gaps?kind=reset", headers=viewer).json()["total"] == 0


def test_dead_letters_show_their_payload_to_staff_only_and_safely(
    client: TestClient, staff: dict[str, str], viewer: dict[str, str]
) -> None:
    seen = client.get(f"/api/v1/dead-letters?hut={HUT}", headers=viewer).json()
    [letter] = seen["data"]
    assert letter["reason"] == "invalid event: seq: Field required"
    assert letter["topic"] == f"{PREFIX}/v1/{HUT}/events"
    assert letter["size"] == 28 and len(letter["sha256"]) == 64
    assert letter["payload_base64"] is None and letter["payload_preview"] is None
    [staffs] = client.get(f"/api/v1/dead-letters?hut={HUT}", headers=staff).json()["data"]
    raw = b'{"card":"04A1B2C3"}\x00\x1b[31m\xe2\x80\xae'
    assert base64.b64decode(staffs["payload_base64"]) == raw
    assert staffs["payload_preview"] == '{"card":"04A1B2C3"}··[31m·'
    assert client.get("/api/v1/dead-letters", headers=viewer).json()["total"] == 2
    path = f"/api/v1/dead-letters/{letter['id']}/resolve"
    resolved = client.post(path, json={"note": "old gateway"}, headers=staff).json()
    assert resolved["state"] == "resolved" and resolved["payload_base64"] is not None
