"""The cards of other huts as short tags (``elsewhere_tags``, added in v1): a tagged card
reads ``elsewhere``, a card named by its hash wins over a tag, an unknown card stays
unknown, and tags that are not whole or not base64 are refused with the field named."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from toolhut.contract import (
    CARD_TAG_BYTES,
    Allowlist,
    CardState,
    ContractError,
    TopicKind,
    parse_allowlist,
    utc_now,
)
from toolhut.hut_keys import HutKeyring

RING = HutKeyring(b"t" * 32)
KEY = RING("h1")
SALT = "0123456789abcdef"
MEMBER, OTHER_HUTS, UNKNOWN = "04D5E6F7", "0b0b0b0b", "0C0C0C0C"


def _tags(*cards: str, key: Any = KEY) -> str:
    return base64.b64encode(b"".join(key.card_tag(SALT, c) for c in cards)).decode()


def test_a_tagged_card_is_elsewhere_and_a_hashed_one_wins() -> None:
    sent = Allowlist(
        hut="h1", version=3, issued=utc_now(), salt=SALT, cards=[KEY.card_hash(SALT, MEMBER)],
        elsewhere_tags=_tags(OTHER_HUTS, MEMBER),
    )  # fmt: skip
    got = parse_allowlist(sent.sealed(KEY), key=KEY)
    assert got == sent
    assert got.state_of(OTHER_HUTS, key=KEY) is CardState.ELSEWHERE  # any case, as hashes
    assert got.state_of(OTHER_HUTS.upper(), key=KEY) is CardState.ELSEWHERE
    assert got.state_of(MEMBER, key=KEY) is CardState.ACTIVE  # its hash wins over its tag
    assert got.state_of(UNKNOWN, key=KEY) is None
    assert "2 elsewhere" in got.counts()
    # Keyed: another hut's key does not find the card among these tags.
    other = RING("h2")
    assert other.card_tag(SALT, OTHER_HUTS) != KEY.card_tag(SALT, OTHER_HUTS)
    assert len(KEY.card_tag(SALT, OTHER_HUTS)) == CARD_TAG_BYTES
    assert KEY.card_tags(SALT, [OTHER_HUTS.upper().encode()]) == [KEY.card_tag(SALT, OTHER_HUTS)]


def test_an_empty_tag_field_is_left_out_as_before() -> None:
    empty = Allowlist(hut="h1", version=3, issued=utc_now(), salt=SALT, cards=[], elsewhere_tags="")
    assert empty.elsewhere_tags is None
    assert b"elsewhere_tags" not in empty.sealed(KEY)


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        (base64.b64encode(b"abcde").decode(), "whole number"),
        ("not base64!", "elsewhere_tags"),
        ("QUJ", "is not base64"),  # the pattern lets it by: its padding is wrong
    ],
)
def test_bad_tags_are_refused_with_the_field_named(tags: str, why: str) -> None:
    payload = {"v": 1, "hut": "h1", "version": 3, "issued": "2026-11-27T02:00:00Z",
               "salt": SALT, "cards": [], "elsewhere_tags": tags}  # fmt: skip
    with pytest.raises(ContractError, match=why):
        parse_allowlist(KEY.seal(TopicKind.ALLOWLIST, json.dumps(payload).encode()), key=KEY)
