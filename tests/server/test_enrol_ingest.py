"""Enrol at the hut with the ingest worker on the real broker: the API's request goes out
as the hut's sealed enrol command through the worker's client, the hut's enrol tap comes
back as an event, binds the card, and the hut's allowlist admits it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.app import create_app
from server.domain.roles import Role
from server.hut_commands import CommandNotSentError
from server.ingest import IngestWorker
from server.seed import seed_demo
from server.settings import ServerSettings
from server.storage.models import Member
from tests.support.gateway_link import FakeGatewayLink
from tests.support.keys import TestKeys
from tests.support.staff_auth import staff_headers
from toolhut.contract import CardDecision, CardEvent, CardState, Command, Outcome, new_id

from .conftest import T0, MovableClock, running_ingest

HUT = "demo-hut"
NEW_CARD = "0C0FFEE0"


def test_a_worker_without_a_broker_sends_nothing(
    settings: ServerSettings, sessions: sessionmaker[Session], keys: TestKeys
) -> None:
    worker = IngestWorker(settings, sessions=sessions, keyring=keys.keyring)
    expires = T0 + timedelta(seconds=60)
    command = Command(id=new_id(), hut=HUT, issued=T0, expires=expires, action="enrol")
    with pytest.raises(CommandNotSentError):
        worker.send_command(command)


def test_enrol_through_the_broker_binds_the_tapped_card_and_the_list_admits_it(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
    gateway: FakeGatewayLink,
) -> None:
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
        member = Member(name="赵先生", building_unit="3-201")
        db.add(member)
        db.flush()
        member_id = member.id
    headers = staff_headers(sessions, Role.STAFF)
    with running_ingest(settings, sessions=sessions, keys=keys, clock=clock) as worker:
        app = create_app(settings, clock=clock, sessions=sessions, commands=worker.send_command)
        with TestClient(app) as client:
            answer = client.post(
                f"/api/v1/huts/{HUT}/enrol", json={"member_id": member_id}, headers=headers
            )
            assert answer.status_code == 201, answer.text
            request = answer.json()
            command = gateway.next_command("enrol")  # sealed with the hut's key, or refused
            assert command.hut == HUT and command.expires == T0 + timedelta(seconds=60)

            clock.advance(timedelta(seconds=5))
            gateway.send(
                CardEvent(
                    id=new_id(), hut=HUT, seq=1, ts=clock(), card=NEW_CARD,
                    decision=CardDecision.ENROL,
                )
            )  # fmt: skip
            [ack] = gateway.next_ack().acks
            assert ack.outcome is Outcome.APPLIED
            read = client.get(f"/api/v1/enrolments/{request['id']}", headers=headers).json()
            assert (read["state"], read["card_uid"]) == ("bound", NEW_CARD)

            # The bind's commit republishes at once (each get waits for the next list).
            key = keys.key(HUT)
            listed = gateway.allowlists.get(timeout=10)
            while listed.state_of(NEW_CARD, key=key) is None:
                listed = gateway.allowlists.get(timeout=10)
            assert listed.state_of(NEW_CARD, key=key) is CardState.ACTIVE


def test_no_broker_connection_answers_503_and_writes_nothing(
    settings: ServerSettings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    keys: TestKeys,
) -> None:
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
        member_id = db.scalars(select(Member.id)).first()
    worker = IngestWorker(settings, sessions=sessions, keyring=keys.keyring, clock=clock)
    app = create_app(settings, clock=clock, sessions=sessions, commands=worker.send_command)
    with TestClient(app) as client:
        answer = client.post(
            f"/api/v1/huts/{HUT}/enrol",
            json={"member_id": member_id},
            headers=staff_headers(sessions, Role.STAFF),
        )
    assert answer.status_code == 503 and "cannot reach the huts" in answer.json()["detail"]
