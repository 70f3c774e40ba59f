"""Every integer of the contract fits both databases and a browser's JSON reader, and no
text field takes a control character: checked field by field, over every message."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from toolhut.contract import (
    MAX_WIRE_INT,
    AckBatch,
    AlarmEvent,
    AlarmKind,
    Allowlist,
    Beep,
    CardDecision,
    CardEvent,
    Command,
    ContractError,
    ControllerEvent,
    DoorEvent,
    DoorState,
    EventAck,
    Feedback,
    GatewayState,
    Outcome,
    ScanEvent,
    Status,
    StatusCounters,
    TopicKind,
    new_id,
    parse_event,
    utc_now,
)
from toolhut.hut_keys import HutKeyring

KEY = HutKeyring(b"s" * 32)("h1")
NOW = utc_now()
ENVELOPE: dict[str, Any] = {"id": new_id(), "hut": "h1", "seq": 7, "ts": NOW, "session": "s-1"}
FEEDBACK = Feedback(beep=Beep.OK, text="已借出")
SAMPLES: list[BaseModel] = [
    CardEvent(**ENVELOPE, card="04A1B2C3", decision=CardDecision.UNLOCKED),
    ScanEvent(**ENVELOPE, text="T0001", card="04A1B2C3"),
    DoorEvent(**ENVELOPE, state=DoorState.OPEN),
    ControllerEvent(**ENVELOPE, state="hello", firmware="emu-1.0"),
    AlarmEvent(**ENVELOPE, kind=AlarmKind.TAMPER, active=True),
    FEEDBACK,
    EventAck(id=new_id(), seq=3, outcome=Outcome.APPLIED, feedback=FEEDBACK),
    AckBatch(hut="h1", acks=[EventAck(id=new_id(), seq=3, outcome=Outcome.APPLIED)]),
    Command(
        id=new_id(),
        hut="h1",
        issued=NOW,
        expires=NOW + timedelta(seconds=30),
        action="feedback",
        feedback=FEEDBACK,
    ),
    StatusCounters(frames=5, malformed=1),
    Status(
        hut="h1",
        state=GatewayState.ONLINE,
        ts=NOW,
        firmware="emu-1.0",
        allowlist=3,
        outbox=2,
        counters=StatusCounters(),
        uptime_s=10,
    ),
    Allowlist(hut="h1", version=2, issued=NOW, salt="saltsalt", cards=["a" * 64]),
]


def _fields(sample: BaseModel, kind: type) -> list[str]:
    """Top-level fields of ``kind`` (nested messages are samples of their own); not ``v``
    and ``type``, which are literals."""
    data = sample.model_dump(mode="json")
    return [n for n, value in data.items() if type(value) is kind and n not in ("v", "type")]


def _with(sample: BaseModel, **changes: Any) -> dict[str, Any]:
    return {**json.loads(sample.model_dump_json()), **changes}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_every_integer_field_stops_at_the_wire_bound(sample: BaseModel) -> None:
    ints = _fields(sample, int)
    for name in ints:
        kind = type(sample)
        kind.model_validate(_with(sample, **{name: MAX_WIRE_INT}))
        for beyond in (MAX_WIRE_INT + 1, 2**63, 2**70):
            with pytest.raises(ValidationError, match="less than or equal to 9007199254740991"):
                kind.model_validate(_with(sample, **{name: beyond}))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("control", ["\x00", "\x1b", "\n", "\x7f", "\x85", "\x9f"])
def test_no_text_field_takes_a_control_character(sample: BaseModel, control: str) -> None:
    kind = type(sample)
    data = sample.model_dump(mode="json")
    for name in _fields(sample, str):
        value = data[name]
        with pytest.raises(ValidationError):
            kind.model_validate(_with(sample, **{name: value[:-1] + control}))


def test_every_sample_has_its_checks() -> None:
    # The two tests above have teeth only where the samples carry ints and texts.
    checked = {name for sample in SAMPLES for name in _fields(sample, int) + _fields(sample, str)}
    expected = {"seq", "id", "text", "firmware", "salt", "session", "frames", "version"}
    assert expected <= checked


def _sealed(payload: dict[str, Any]) -> bytes:
    """As the hut sends it: the bounds are checked behind a valid seal."""
    return KEY.seal(TopicKind.EVENTS, json.dumps(payload).encode())


@pytest.mark.parametrize("seq", [2**63, 2**53])
def test_parse_event_refuses_a_seq_past_the_bound_and_says_why(seq: int) -> None:
    payload = _with(SAMPLES[2], seq=seq)
    with pytest.raises(ContractError) as refused:
        parse_event(_sealed(payload), key=KEY)
    assert str(refused.value) == (
        "invalid event: door.seq: Input should be less than or equal to 9007199254740991"
    )
    assert parse_event(_sealed(_with(SAMPLES[2], seq=MAX_WIRE_INT)), key=KEY).seq == MAX_WIRE_INT


def test_a_scan_with_a_nul_is_refused_and_says_where() -> None:
    payload = _with(SAMPLES[1], text="T00\x0001")
    with pytest.raises(ContractError) as refused:
        parse_event(_sealed(payload), key=KEY)
    assert str(refused.value) == (
        "invalid event: scan.text: Value error, control character U+0000 at 3"
    )


def test_status_alarms_and_nested_counters_are_bounded() -> None:
    status = SAMPLES[10]
    with pytest.raises(ValidationError, match="less than or equal"):
        Status.model_validate(_with(status, counters={"frames": 2**63}))
    with pytest.raises(ValidationError, match="at most 3 items"):
        Status.model_validate(_with(status, alarms=["tamper"] * 4))
