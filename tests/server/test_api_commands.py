"""Acting on a hut remotely, through the API and the ledger (SQLite and PostgreSQL): staff
send an unlock, enrol or status command; it is logged, audited and sent with a short
expiry; without a broker it is a 503 and logged as not sent; the gateway's report, once
ingested, is what the API shows (and no report at all reads ``no_answer``); an unlock for a
resident whose card does not work lends that visit's scans to them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain import ItemStatus
from server.domain.remote_commands import NO_ANSWER_GRACE
from server.domain.roles import Role
from server.ledger import apply_batch
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Card, DoorSession, Hut, Item, Loan
from server.storage.operations_models import RemoteCommand
from server.storage.staff_models import AuditEntry
from tests.support.staff_auth import staff_headers
from toolhut.contract import AnyEvent, CommandOutcome, DoorState, EventAck, Outcome

from .command_sender import Sender
from .conftest import MovableClock
from .factories import command_report, door, scan

HUT = "demo-hut"
LI_CARD = "04D5E6F7"  # seeded: 李师傅
STAFF_NAME = "amy-staff"


class Huts:
    """The API with a staff and a viewer token, and the ledger behind it."""

    def __init__(
        self,
        client: TestClient,
        sessions: sessionmaker[Session],
        clock: MovableClock,
        sender: Sender,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.clock = clock
        self.sender = sender
        self.seq = 0
        self.staff = staff_headers(sessions, Role.STAFF, username=STAFF_NAME)
        self.viewer = staff_headers(sessions, Role.VIEWER)

    def send(self, expect: int = 201, **body: Any) -> Any:
        answer = self.client.post(
            f"/api/v1/huts/{HUT}/commands",
            json={"reason": "李师傅的卡坏了 / card broken", **body},
            headers=self.staff,
        )
        assert answer.status_code == expect, answer.text
        return answer.json()

    def read(self, command_id: str) -> Any:
        answer = self.client.get(f"/api/v1/commands/{command_id}", headers=self.viewer)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def ingest(self, *events: AnyEvent) -> list[EventAck]:
        with self.sessions.begin() as db:
            hut = db.get(Hut, HUT)
            assert hut is not None
            result = apply_batch(db, list(events), huts={HUT: hut}, received_at=self.clock())
        return result.acks[HUT]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def report(self, command_id: str, **fields: Any) -> list[EventAck]:
        event = command_report(HUT, self.next_seq(), command_id, ts=self.clock(), **fields)
        return self.ingest(event)

    def member_of(self, uid: str) -> int:
        with self.sessions() as db:
            return db.scalars(select(Card.member_id).where(Card.uid == uid)).one()

    def audit(self, action: str) -> list[AuditEntry]:
        with self.sessions() as db:
            query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            return list(db.scalars(query))


@pytest.fixture
def huts(sessions: sessionmaker[Session], clock: MovableClock) -> Iterator[Huts]:
    with sessions.begin() as session:
        seed_demo(session)
    sender = Sender()
    app = create_app(ServerSettings(), clock=clock, sessions=sessions, commands=sender)
    with TestClient(app) as client:
        yield Huts(client, sessions, clock, sender)


def test_an_unlock_is_logged_audited_and_sent_with_a_short_expiry(huts: Huts) -> None:
    sent = huts.send(action="unlock")
    (command,) = huts.sender.sent
    assert (command.id, command.hut, command.action) == (sent["id"], HUT, "unlock")
    now = huts.clock()
    assert command.issued == now and command.expires == now + timedelta(seconds=30)
    assert sent["status"] == "pending" and sent["issued_by"] == STAFF_NAME
    assert sent["reason"] == "李师傅的卡坏了 / card broken" and sent["member_id"] is None
    (entry,) = huts.audit("command.send")
    assert (entry.actor, entry.entity, entry.entity_id) == (STAFF_NAME, "command", sent["id"])
    assert entry.after is not None and entry.after["action"] == "unlock" and entry.after["sent"]
    assert huts.read(sent["id"]) == sent

    huts.clock.advance(timedelta(seconds=1))
    status = huts.send(action="status", expires_in_s=10)
    assert huts.sender.sent[-1].expires == huts.clock() + timedelta(seconds=10)
    listed = huts.client.get(f"/api/v1/huts/{HUT}/commands", headers=huts.viewer).json()
    assert [c["id"] for c in listed["data"]] == [status["id"], sent["id"]]  # newest first
    assert listed["total"] == 2
    only = huts.client.get(
        f"/api/v1/huts/{HUT}/commands", params={"action": "status"}, headers=huts.viewer
    ).json()
    assert [c["id"] for c in only["data"]] == [status["id"]]


def test_roles_and_bad_input_are_refused_with_the_field_named(huts: Huts) -> None:
    path = f"/api/v1/huts/{HUT}/commands"
    body = {"action": "unlock", "reason": "test"}
    assert huts.client.post(path, json=body).status_code == 401
    assert huts.client.post(path, json=body, headers=huts.viewer).status_code == 403
    assert huts.client.get(path).status_code == 401
    admin = staff_headers(huts.sessions, Role.ADMIN)
    assert huts.client.post(path, json=body, headers=admin).status_code == 201

    def refused(**fields: Any) -> list[Any]:
        answer = huts.client.post(path, json=fields, headers=huts.staff)
        assert answer.status_code == 422, answer.text
        return [error["loc"] for error in answer.json()["detail"]]

    assert refused(action="open", reason="x") == [["body", "action"]]
    assert refused(action="unlock") == [["body", "reason"]]
    assert refused(action="unlock", reason="") == [["body", "reason"]]
    assert refused(action="unlock", reason="x", expires_in_s=121) == [["body", "expires_in_s"]]
    assert refused(action="unlock", reason="x", expires_in_s=4) == [["body", "expires_in_s"]]
    assert refused(action="enrol", reason="x") == [["body", "member_id"]]
    assert refused(action="status", reason="x", member_id=1) == [["body", "member_id"]]
    assert refused(action="unlock", reason="x\x00") == [["body", "reason"]]
    missing = huts.client.post("/api/v1/huts/nowhere/commands", json=body, headers=huts.staff)
    assert missing.status_code == 404 and "没有这个工具屋" in missing.json()["detail"]
    nobody = huts.client.post(path, json={**body, "member_id": 99999}, headers=huts.staff)
    assert nobody.status_code == 404
    assert huts.client.get("/api/v1/commands/nothing-here", headers=huts.viewer).status_code == 404
    assert huts.client.get("/api/v1/huts/nowhere/commands", headers=huts.viewer).status_code == 404
    assert len(huts.sender.sent) == 1  # the admin's, nothing else went out


def test_without_a_broker_it_is_a_503_and_the_log_says_not_sent(huts: Huts) -> None:
    huts.sender.down = True
    answer = huts.client.post(
        f"/api/v1/huts/{HUT}/commands",
        json={"action": "unlock", "reason": "test"},
        headers=huts.staff,
    )
    assert answer.status_code == 503 and "无法联系" in answer.json()["detail"]
    with huts.sessions() as db:
        (row,) = db.scalars(select(RemoteCommand))
        command_id = row.id
    shown = huts.read(command_id)
    assert (shown["status"], shown["sent_at"]) == ("not_sent", None)
    (entry,) = huts.audit("command.send")
    assert entry.after is not None and entry.after["sent"] is False


def test_the_report_ingested_is_the_outcome_shown_and_the_first_report_wins(
    huts: Huts,
) -> None:
    sent = huts.send(action="unlock")
    huts.clock.advance(timedelta(seconds=2))
    acks = huts.report(sent["id"])
    assert [a.outcome for a in acks] == [Outcome.APPLIED]
    shown = huts.read(sent["id"])
    assert (shown["status"], shown["detail"]) == ("done", None)
    assert shown["outcome_at"] == huts.clock().isoformat().replace("+00:00", "Z")
    # A replay of the command reaching the hut late: reported expired, changes nothing.
    huts.clock.advance(timedelta(minutes=5))
    huts.report(sent["id"], outcome=CommandOutcome.EXPIRED, detail="late")
    assert huts.read(sent["id"])["status"] == "done"

    failed = huts.send(action="status")
    huts.report(failed["id"], action="status", outcome=CommandOutcome.FAILED, detail="控制器未连接")
    assert (huts.read(failed["id"])["status"], huts.read(failed["id"])["detail"]) == (
        "failed",
        "控制器未连接",
    )


def test_without_a_report_a_command_reads_no_answer_and_a_late_report_still_counts(
    huts: Huts,
) -> None:
    sent = huts.send(action="unlock")
    huts.clock.advance(timedelta(seconds=30) + NO_ANSWER_GRACE - timedelta(seconds=1))
    assert huts.read(sent["id"])["status"] == "pending"
    huts.clock.advance(timedelta(seconds=1))
    assert huts.read(sent["id"])["status"] == "no_answer"
    with huts.sessions() as db:
        row = db.get(RemoteCommand, sent["id"])
        assert row is not None and row.outcome is None  # computed, not stored
    huts.report(sent["id"], outcome=CommandOutcome.EXPIRED)  # after an outage
    assert huts.read(sent["id"])["status"] == "expired"


def test_a_report_of_a_command_not_in_the_log_is_applied_and_changes_nothing(
    huts: Huts, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.ledger")
    sent = huts.send(action="unlock")
    acks = huts.report("c-from-another-server", action="sync", detail="resent 0")
    assert [a.outcome for a in acks] == [Outcome.APPLIED]
    # A report that names another action than the command's is not its answer.
    assert huts.report(sent["id"], action="status")[0].outcome is Outcome.APPLIED
    assert huts.read(sent["id"])["status"] == "pending"
    assert "not awaited" in caplog.text


def test_enrol_goes_through_the_command_log_and_its_request(huts: Huts) -> None:
    member = huts.member_of(LI_CARD)
    sent = huts.send(action="enrol", member_id=member, expires_in_s=120)
    assert sent["enrolment_id"] is not None and sent["member_id"] == member
    assert huts.sender.sent[-1].expires == huts.clock() + timedelta(seconds=120)
    request = huts.client.get(f"/api/v1/enrolments/{sent['enrolment_id']}", headers=huts.viewer)
    assert request.json()["state"] == "waiting"
    # The enrol route of before writes the same log.
    old_route = huts.client.post(
        f"/api/v1/huts/{HUT}/enrol", json={"member_id": member}, headers=huts.staff
    )
    assert old_route.status_code == 201
    listed = huts.client.get(
        f"/api/v1/huts/{HUT}/commands", params={"action": "enrol"}, headers=huts.viewer
    ).json()
    assert {c["enrolment_id"] for c in listed["data"]} == {
        sent["enrolment_id"],
        old_route.json()["id"],
    }
    assert len(huts.audit("command.send")) == 2


def test_an_unlock_for_a_resident_lends_the_scans_of_that_visit_to_them(huts: Huts) -> None:
    li = huts.member_of(LI_CARD)
    sent = huts.send(action="unlock", member_id=li)
    visit = "gw-session-remote-1"  # the gateway's id for the session the unlock opened
    acks = huts.ingest(
        command_report(HUT, huts.next_seq(), sent["id"], session=visit, ts=huts.clock()),
        door(HUT, huts.next_seq(), session=visit, ts=huts.clock()),
        scan(HUT, huts.next_seq(), "T0001", card=None, session=visit, ts=huts.clock()),
        door(HUT, huts.next_seq(), session=visit, ts=huts.clock(), state=DoorState.CLOSED),
    )
    assert [a.outcome for a in acks] == [Outcome.APPLIED] * 4
    feedback = acks[2].feedback
    assert feedback is not None and feedback.text.startswith("已借出 电钻")
    with huts.sessions() as db:
        item = db.scalars(select(Item).where(Item.tag == "T0001")).one()
        loan = db.scalars(select(Loan).where(Loan.item_id == item.id)).one()
        session = db.scalars(select(DoorSession).where(DoorSession.key == visit)).one()
        assert (item.status, loan.member_id) == (ItemStatus.ON_LOAN, li)
        assert (session.member_id, session.card_uid, session.scans) == (li, None, 1)
        assert session.flag is None  # something was scanned
    assert huts.read(sent["id"])["status"] == "done"


def test_an_unlock_for_nobody_in_particular_lends_nothing(huts: Huts) -> None:
    sent = huts.send(action="unlock")
    visit = "gw-session-remote-2"
    acks = huts.ingest(
        command_report(HUT, huts.next_seq(), sent["id"], session=visit, ts=huts.clock()),
        scan(HUT, huts.next_seq(), "T0001", card=None, session=visit, ts=huts.clock()),
    )
    # Nobody to lend to: an available item scanned without a card is taken in as found.
    assert acks[1].feedback is not None and acks[1].feedback.text.startswith("已收到")
    with huts.sessions() as db:
        assert db.scalars(select(Loan)).first() is None
