"""The allowlist's opening hours, its anytime cards and its elsewhere cards: additive in v1,
a list without them is what it was, and bad ones are refused with the field named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from toolhut.contract import (
    Allowlist,
    CardDecision,
    CardEvent,
    CardState,
    ContractError,
    DenialReason,
    TopicKind,
    new_id,
    parse_allowlist,
    parse_event,
    utc_now,
)
from toolhut.hut_keys import HutKeyring
from toolhut.opening_hours import OpeningHours

KEY = HutKeyring(b"s" * 32)("h1")
SALT = "0123456789abcdef"
STAFF, MEMBER, OTHER_HUTS = "04A1B2C3", "04D5E6F7", "0B0B0B0B"
HOURS = OpeningHours(tz="Asia/Shanghai", week={"mon": [["08:00", "12:00"], ["14:00", "20:00"]]})
MONDAY_NOON_LOCAL = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai: closed
MONDAY_MORNING_LOCAL = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: open


def _hash(card: str) -> str:
    return KEY.card_hash(SALT, card)


def _head(**fields: Any) -> dict[str, Any]:
    return {"v": 1, "hut": "h1", "version": 3, "issued": "2026-11-27T02:00:00Z", "salt": SALT,
            "cards": [_hash(STAFF), _hash(MEMBER)], **fields}  # fmt: skip


def _sealed(payload: dict[str, Any]) -> bytes:
    return KEY.seal(TopicKind.ALLOWLIST, json.dumps(payload).encode())


def test_hours_anytime_and_elsewhere_go_round_the_wire() -> None:
    sent = Allowlist(
        hut="h1", version=3, issued=utc_now(), salt=SALT, cards=[_hash(STAFF), _hash(MEMBER)],
        elsewhere=[_hash(OTHER_HUTS)], hours=HOURS, anytime=[_hash(STAFF)],
    )  # fmt: skip
    got = parse_allowlist(sent.sealed(KEY), key=KEY)
    assert got == sent
    assert got.hours == HOURS
    assert got.state_of(OTHER_HUTS, key=KEY) is CardState.ELSEWHERE
    assert not got.admits(OTHER_HUTS, key=KEY)
    assert got.opens_anytime(STAFF, key=KEY) and not got.opens_anytime(MEMBER, key=KEY)
    assert got.open_at(MONDAY_MORNING_LOCAL) and not got.open_at(MONDAY_NOON_LOCAL)
    for uid in (STAFF, MEMBER, OTHER_HUTS):
        assert uid not in sent.to_bytes().decode()


def test_a_list_in_the_old_format_reads_as_always_open_and_new_fields_are_left_out() -> None:
    old = parse_allowlist(_sealed(_head()), key=KEY)
    assert old.hours is None and old.anytime is None and old.elsewhere is None
    assert old.open_at(MONDAY_NOON_LOCAL)
    assert old.admits(MEMBER, key=KEY) and not old.opens_anytime(STAFF, key=KEY)
    # An always-open hut whose members may open every hut: on the wire as before.
    plain = Allowlist(hut="h1", version=3, issued=utc_now(), salt=SALT, cards=[_hash(MEMBER)],
                      elsewhere=[], anytime=[])  # fmt: skip
    wire = json.loads(plain.to_bytes())
    assert set(wire) == {"v", "hut", "version", "issued", "salt", "cards"}


@pytest.mark.parametrize(
    ("hours", "says"),
    [
        ({"tz": "Asia/Shanghai", "week": {"mon": [["20:00", "08:00"]]}}, "ends before it starts"),
        ({"tz": "Mars/Olympus", "week": {"mon": [["08:00", "20:00"]]}}, "unknown time zone"),
        ({"week": {"someday": [["08:00", "20:00"]]}}, "is not a day"),
        ({"week": {"mon": [["08:00", "25:00"]]}}, "is not a time of day"),
        ({"week": {}}, "never open"),
        ({"week": {"mon": [["08:00", "20:00"]]}, "holidays": []}, "Extra inputs"),
        ("08:00-20:00", "should be an object"),
    ],
)
def test_bad_hours_are_refused_naming_the_field(hours: Any, says: str) -> None:
    with pytest.raises(ContractError, match="hours") as refused:
        parse_allowlist(_sealed(_head(hours=hours)), key=KEY)
    assert says in str(refused.value)


def test_an_anytime_card_must_open_the_door_and_a_card_has_one_state() -> None:
    with pytest.raises(ContractError, match="anytime card is not among the cards"):
        parse_allowlist(_sealed(_head(anytime=[_hash(OTHER_HUTS)])), key=KEY)
    with pytest.raises(ContractError, match="more than one state"):
        parse_allowlist(_sealed(_head(elsewhere=[_hash(MEMBER)])), key=KEY)
    with pytest.raises(ContractError, match="anytime card is not among the cards"):
        parse_allowlist(
            _sealed(_head(elsewhere=[_hash(OTHER_HUTS)], anytime=[_hash(OTHER_HUTS)])), key=KEY
        )


@pytest.mark.parametrize("reason", [DenialReason.CLOSED, DenialReason.ELSEWHERE])
def test_a_card_event_carries_the_new_reasons(reason: DenialReason) -> None:
    event = CardEvent(id=new_id(), hut="h1", seq=4, ts=utc_now(), card=MEMBER,
                      decision=CardDecision.DENIED, reason=reason)  # fmt: skip
    assert parse_event(event.sealed(KEY), key=KEY) == event
    assert f'"reason":"{reason.value}"'.encode() in event.to_bytes()
