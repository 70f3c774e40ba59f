"""Cards read in staff enrol mode, as staff see them."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from server.ledger import apply_batch
from server.storage.models import Hut
from toolhut.contract import CardDecision, CardEvent, Outcome, new_id

from .conftest import T0
from .test_api import client  # noqa: F401  the fixture


def test_enrol_taps_are_listed_for_staff_only(
    client: TestClient,  # noqa: F811
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
    staff: dict[str, str],
) -> None:
    caplog.set_level(logging.DEBUG)
    tap = CardEvent(
        id=new_id(), hut="demo-hut", seq=1, ts=T0, card="0a0b0c0d".upper(),
        decision=CardDecision.ENROL,
    )  # fmt: skip
    with sessions.begin() as session:
        hut = session.get(Hut, "demo-hut")
        assert hut is not None
        result = apply_batch(session, [tap], huts={hut.id: hut}, received_at=T0)
    assert [a.outcome for a in result.acks["demo-hut"]] == [Outcome.APPLIED]
    # The UID is a credential: staff read it on the API, no log line carries it.
    assert caplog.records and not [
        r for r in caplog.records if "0A0B0C0D" in r.getMessage().upper()
    ]

    assert client.get("/api/v1/huts/demo-hut/enrolments").status_code == 401
    body = client.get("/api/v1/huts/demo-hut/enrolments", headers=staff).json()
    assert body["count"] == 1
    assert body["data"][0]["card"] == "0A0B0C0D" and body["data"][0]["member_id"] is None
    assert client.get("/api/v1/huts/nowhere/enrolments", headers=staff).status_code == 404
