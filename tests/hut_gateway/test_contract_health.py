"""The contract additions for door and controller health stay backward compatible."""

from __future__ import annotations

from datetime import timedelta

import pytest

from toolhut.contract import (
    AlarmEvent,
    AlarmKind,
    CardDecision,
    CardEvent,
    Command,
    ContractError,
    ControllerEvent,
    Status,
    StatusCounters,
    TopicKind,
    new_id,
    parse_command,
    parse_event,
    parse_status,
    utc_now,
)
from toolhut.hut_keys import HutKeyring

KEY = HutKeyring(b"c" * 32)("h1")


def envelope() -> dict[str, object]:
    return {"id": new_id(), "hut": "h1", "seq": 7, "ts": utc_now()}


def test_alarm_event_round_trips_and_says_who_raised_it() -> None:
    event = AlarmEvent(**envelope(), kind=AlarmKind.HELD_OPEN, active=True, source="gateway")
    assert parse_event(event.sealed(KEY), key=KEY) == event
    plain = parse_event(AlarmEvent(**envelope(), kind="tamper", active=False).sealed(KEY), key=KEY)
    assert isinstance(plain, AlarmEvent) and plain.source == "controller"
    with pytest.raises(ContractError, match="kind"):
        parse_event(KEY.seal(TopicKind.EVENTS, event.to_bytes().replace(b"held_open", b"on_fire")),
                    key=KEY)  # fmt: skip


@pytest.mark.parametrize("state", ["hello", "ok", "silent", "absent"])
def test_controller_states(state: str) -> None:
    event = ControllerEvent.model_validate({**envelope(), "state": state})
    assert parse_event(event.sealed(KEY), key=KEY) == event


def test_enrol_is_a_card_decision_and_a_command() -> None:
    card = CardEvent(**envelope(), card="04A1B2C3", decision=CardDecision.ENROL)
    assert b'"decision":"enrol"' in card.to_bytes()
    now = utc_now()
    command = Command(id=new_id(), hut="h1", issued=now, expires=now + timedelta(seconds=30),
                      action="enrol")  # fmt: skip
    assert parse_command(command.sealed(KEY), key=KEY).action == "enrol"


def test_status_carries_alarms_and_counters_and_old_payloads_still_parse() -> None:
    status = Status(hut="h1", state="online", controller="silent", alarms=[AlarmKind.TAMPER],
                    counters=StatusCounters(garbage_bytes=3, rejected_messages=1))  # fmt: skip
    assert parse_status(status.sealed(KEY), key=KEY) == status
    assert b'"alarms":["tamper"]' in status.to_bytes()
    old_body = b'{"v":1,"hut":"h1","state":"online","controller":"ok","outbox":0}'
    old = parse_status(KEY.seal(TopicKind.STATUS, old_body), key=KEY)
    assert old.alarms is None and old.counters is None
    with pytest.raises(ContractError):
        bad = b'{"v":1,"hut":"h1","state":"online","counters":{"frames":-1}}'
        parse_status(KEY.seal(TopicKind.STATUS, bad), key=KEY)
