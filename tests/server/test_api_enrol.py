"""Enrol at the hut in one step, through the API and the ledger (SQLite and PostgreSQL):
staff put a hut into enrol mode for a member, the enrol command goes out, the next enrol
tap there binds the card (or is refused), the request reads bound, refused, expired or
cancelled; every staff write is audited; without a broker no request is written, only the
command log's row saying the command was not sent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.model import MemberStatus
from server.domain.roles import Role
from server.ledger import apply_batch
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage import access_changes
from server.storage.ingest_models import EnrolmentCandidate
from server.storage.models import Card, EnrolmentRequest, Hut, Member
from server.storage.operations_models import RemoteCommand
from server.storage.staff_models import AuditEntry
from tests.support.staff_auth import staff_headers
from toolhut.contract import CardDecision, CardEvent, Outcome, new_id

from .command_sender import Sender
from .conftest import MovableClock

HUT = "demo-hut"
ZHANG_CARD, LI_CARD = "04A1B2C3", "04D5E6F7"  # seeded
NEW_CARD = "0C0FFEE0"
STAFF_NAME = "amy-staff"


class Hut_:
    def __init__(
        self, client: TestClient, sessions: sessionmaker[Session], clock: MovableClock
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.clock = clock
        self.seq = 0
        self.staff = staff_headers(sessions, Role.STAFF, username=STAFF_NAME)
        self.viewer = staff_headers(sessions, Role.VIEWER)

    def member_of(self, uid: str) -> int:
        with self.sessions() as db:
            return db.scalars(select(Card.member_id).where(Card.uid == uid)).one()

    def new_member(self, name: str = "赵先生") -> int:
        with self.sessions.begin() as db:
            member = Member(name=name, building_unit="3-201")
            db.add(member)
            db.flush()
            return member.id

    def enrol(self, member_id: int, **body: object) -> dict[str, object]:
        answer = self.client.post(
            f"/api/v1/huts/{HUT}/enrol", json={"member_id": member_id, **body}, headers=self.staff
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def read(self, request_id: object) -> dict[str, object]:
        answer = self.client.get(f"/api/v1/enrolments/{request_id}", headers=self.viewer)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def tap(self, uid: str, *, ago: timedelta = timedelta(0)) -> None:
        """A card read in enrol mode, stamped ``ago`` before the clock's now."""
        self.seq += 1
        now = self.clock()
        event = CardEvent(
            id=new_id(), hut=HUT, seq=self.seq, ts=now - ago, card=uid,
            decision=CardDecision.ENROL,
        )  # fmt: skip
        with self.sessions.begin() as db:
            hut = db.get(Hut, HUT)
            assert hut is not None
            result = apply_batch(db, [event], huts={HUT: hut}, received_at=now)
        assert [a.outcome for a in result.acks[HUT]] == [Outcome.APPLIED]

    def audit(self, action: str) -> list[AuditEntry]:
        with self.sessions() as db:
            query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            return list(db.scalars(query))

    def count(self, model: type[object]) -> int:
        with self.sessions() as db:
            return int(db.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def sender() -> Sender:
    return Sender()


@pytest.fixture
def hut(sessions: sessionmaker[Session], clock: MovableClock, sender: Sender) -> Iterator[Hut_]:
    with sessions.begin() as session:
        seed_demo(session)
    app = create_app(ServerSettings(), clock=clock, sessions=sessions, commands=sender)
    with TestClient(app) as client:
        yield Hut_(client, sessions, clock)


def test_the_next_tap_binds_the_card_and_the_huts_lists_follow(
    hut: Hut_, sender: Sender, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    member = hut.new_member()
    cards = hut.count(Card)
    request = hut.enrol(member, seconds=90)
    now = hut.clock()
    assert request["state"] == "waiting" and request["member_id"] == member
    assert request["requested_by"] == STAFF_NAME and request["card_uid"] is None
    [command] = sender.sent
    assert (command.action, command.hut) == ("enrol", HUT)
    assert command.expires == now + timedelta(seconds=90)
    with sessions() as db:
        row = db.get(EnrolmentRequest, request["id"])
        assert row is not None and row.command_id == command.id

    told: list[int] = []
    stop = access_changes.listen(sessions, lambda: told.append(1))
    try:
        hut.clock.advance(timedelta(seconds=30))
        hut.tap(NEW_CARD)
    finally:
        stop()
    assert told == [1]  # the commit that bound the card republishes the allowlists
    # The bind is logged by the request's id; the UID is a credential, in no log line.
    shown = [r.getMessage() for r in caplog.records]
    assert f"enrolment request {request['id']} bound" in "\n".join(shown)
    assert not [line for line in shown if NEW_CARD in line.upper()]

    bound = hut.read(request["id"])
    assert (bound["state"], bound["card_uid"], bound["reason"]) == ("bound", NEW_CARD, None)
    with sessions() as db:
        card = db.scalars(select(Card).where(Card.uid == NEW_CARD)).one()
        assert card.member_id == member and card.bound_at == hut.clock()
        # Staff still see what was tapped, as it stood before the tap.
        candidate = db.scalars(select(EnrolmentCandidate)).one()
        assert (candidate.card_uid, candidate.member_id) == (NEW_CARD, None)
    [bind] = hut.audit("card.bind")
    # Filed under the member, as every card entry is, so an erasure redacts the card too.
    assert (bind.actor, bind.entity, bind.entity_id) == (STAFF_NAME, "member", str(member))
    assert bind.user_id is not None and bind.after == {
        "card": NEW_CARD, "hut_id": HUT, "enrolment_id": request["id"],
    }  # fmt: skip
    [asked] = hut.audit("enrolment.request")
    assert asked.actor == STAFF_NAME and asked.entity_id == str(request["id"])

    # The request is over: another tap is only listed.
    hut.tap("0D0D0D0D")
    assert hut.count(Card) == cards + 1 and hut.count(EnrolmentCandidate) == 2


def test_another_members_card_is_refused_and_the_members_own_card_is_bound(hut: Hut_) -> None:
    li = hut.member_of(LI_CARD)
    cards = hut.count(Card)
    request = hut.enrol(li)
    hut.tap(ZHANG_CARD)
    refused = hut.read(request["id"])
    assert (refused["state"], refused["card_uid"]) == ("refused", ZHANG_CARD)
    assert refused["reason"] == "card_in_use"
    assert hut.member_of(ZHANG_CARD) != li and not hut.audit("card.bind")

    again = hut.enrol(li)
    hut.tap(LI_CARD)
    assert hut.read(again["id"])["state"] == "bound"
    assert hut.count(Card) == cards and not hut.audit("card.bind")  # nothing new to bind


def test_a_request_past_its_time_reads_expired_and_binds_nothing(hut: Hut_) -> None:
    member = hut.new_member()
    cards = hut.count(Card)
    request = hut.enrol(member, seconds=10)
    hut.clock.advance(timedelta(seconds=10))
    assert hut.read(request["id"])["state"] == "expired"
    hut.tap(NEW_CARD)
    assert hut.read(request["id"])["state"] == "expired" and hut.count(Card) == cards
    # A tap stamped within the window, reported late (the hut was offline), still binds.
    later = hut.enrol(member, seconds=10)
    hut.clock.advance(timedelta(seconds=40))
    hut.tap("0D0D0D0D", ago=timedelta(seconds=35))
    assert hut.read(later["id"])["state"] == "bound"


def test_a_new_request_supersedes_the_huts_waiting_one_and_staff_may_cancel(hut: Hut_) -> None:
    cards = hut.count(Card)
    first = hut.enrol(hut.new_member())
    second = hut.enrol(hut.new_member("钱女士"))
    assert hut.read(first["id"])["state"] == "cancelled"
    [superseded] = hut.audit("enrolment.cancel")
    assert superseded.entity_id == str(first["id"]) and superseded.after is not None
    assert superseded.after["superseded_by"] == second["id"]

    path = f"/api/v1/enrolments/{second['id']}"
    assert hut.client.delete(path, headers=hut.viewer).status_code == 403
    cancelled = hut.client.delete(path, headers=hut.staff)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert len(hut.audit("enrolment.cancel")) == 2
    again = hut.client.delete(path, headers=hut.staff)
    assert again.status_code == 409 and "已结束" in again.json()["detail"]
    hut.tap(NEW_CARD)
    assert hut.count(Card) == cards  # nobody waits: the tap is only listed


def test_refusals_name_what_is_wrong_and_write_nothing(hut: Hut_, sender: Sender) -> None:
    member = hut.new_member()
    post = hut.client.post
    path = f"/api/v1/huts/{HUT}/enrol"
    assert post(path, json={"member_id": member}).status_code == 401
    assert post(path, json={"member_id": member}, headers=hut.viewer).status_code == 403
    assert post(path, json={"member_id": 99999}, headers=hut.staff).status_code == 404
    missing = post("/api/v1/huts/nowhere/enrol", json={"member_id": member}, headers=hut.staff)
    assert missing.status_code == 404 and "没有这个工具屋" in missing.json()["detail"]
    for seconds in (9, 301):
        bad = post(path, json={"member_id": member, "seconds": seconds}, headers=hut.staff)
        assert bad.status_code == 422
        assert [e["loc"] for e in bad.json()["detail"]] == [["body", "seconds"]]
    suspended = hut.member_of(ZHANG_CARD)
    with hut.sessions.begin() as db:
        row = db.get(Member, suspended)
        assert row is not None
        row.status = MemberStatus.SUSPENDED
    not_active = post(path, json={"member_id": suspended}, headers=hut.staff)
    assert not_active.status_code == 409 and "suspended" in not_active.json()["detail"]

    sender.down = True
    away = post(path, json={"member_id": member}, headers=hut.staff)
    assert away.status_code == 503 and "无法联系" in away.json()["detail"]
    # No request; the command log says the enrol command was not sent, and who tried.
    assert hut.count(EnrolmentRequest) == 0
    assert [e.after["sent"] for e in hut.audit("command.send")] == [False]
    assert hut.count(AuditEntry) == 1
    with hut.sessions() as db:
        (logged,) = db.scalars(select(RemoteCommand))
        assert (logged.action, logged.outcome, logged.member_id) == ("enrol", "not_sent", member)
    assert not sender.sent

    assert hut.client.get("/api/v1/enrolments/1").status_code == 401
    assert hut.client.get("/api/v1/enrolments/1", headers=hut.viewer).status_code == 404


def test_an_app_without_a_broker_answers_503(
    sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    with sessions.begin() as session:
        seed_demo(session)
    with TestClient(create_app(ServerSettings(), clock=clock, sessions=sessions)) as client:
        headers = staff_headers(sessions, Role.STAFF)
        with sessions.begin() as db:
            member = db.scalars(select(Member.id)).first()
        answer = client.post(
            f"/api/v1/huts/{HUT}/enrol", json={"member_id": member}, headers=headers
        )
        assert answer.status_code == 503
