"""The contract's additions for acting remotely (the ``status`` command and CommandEvent,
the gateway's report of a command) seal and parse, refuse what is out of bounds, and leave
every payload of before as it was."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from toolhut.contract import (
    CommandEvent,
    CommandOutcome,
    ContractError,
    DoorEvent,
    TopicKind,
    new_id,
    parse_command,
    parse_event,
    utc_now,
)
from toolhut.hut_keys import HutKeyring

KEY = HutKeyring(b"r" * 32)("h1")
COMMAND_ID = "9b2e4c1a-0f3d-4e8b-a6c5-2d7f1e0b3a94"


def _report(**fields: object) -> dict[str, object]:
    return {
        "v": 1, "id": new_id(), "hut": "h1", "seq": 3, "ts": utc_now().isoformat(),
        "type": "command", "command": COMMAND_ID, "action": "unlock", "outcome": "done",
        **fields,
    }  # fmt: skip


def _sealed(body: dict[str, object]) -> bytes:
    return KEY.seal(TopicKind.EVENTS, json.dumps(body).encode())


@pytest.mark.parametrize("outcome", list(CommandOutcome))
def test_a_report_round_trips_sealed(outcome: CommandOutcome) -> None:
    event = CommandEvent.model_validate(
        _report(outcome=outcome.value, session="s-9", detail="控制器未连接 / controller absent")
    )
    parsed = parse_event(event.sealed(KEY), key=KEY)
    assert parsed == event and isinstance(parsed, CommandEvent)
    assert b'"type":"command"' in event.to_bytes()


def test_a_report_out_of_bounds_is_refused_with_the_field_named() -> None:
    for bad, field in (
        ({"outcome": "maybe"}, "outcome"),
        ({"action": "open"}, "action"),
        ({"command": "short"}, "command"),
        ({"detail": "x" * 201}, "detail"),
        ({"detail": "a\nb"}, "detail"),
    ):
        with pytest.raises(ContractError, match=field):
            parse_event(_sealed(_report(**bad)), key=KEY)
    with pytest.raises(ContractError, match="MAC"):
        parse_event(CommandEvent.model_validate(_report()).to_bytes(), key=KEY)  # unsealed


def test_the_status_command_parses_and_the_commands_of_before_too() -> None:
    now = utc_now()
    for action in ("unlock", "feedback", "enrol", "sync", "status"):
        body = {"v": 1, "id": new_id(), "hut": "h1", "issued": now.isoformat(),
                "expires": (now + timedelta(seconds=30)).isoformat(), "action": action}  # fmt: skip
        if action == "feedback":
            body["feedback"] = {"beep": "error", "text": "请先刷卡"}
        command = parse_command(KEY.seal(TopicKind.CMD, json.dumps(body).encode()), key=KEY)
        assert command.action == action


def test_events_of_before_parse_as_they_did() -> None:
    door = {"v": 1, "id": new_id(), "hut": "h1", "seq": 1, "ts": utc_now().isoformat(),
            "type": "door", "state": "open"}  # fmt: skip
    assert isinstance(parse_event(_sealed(door), key=KEY), DoorEvent)
