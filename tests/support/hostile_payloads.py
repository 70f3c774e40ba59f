"""Hostile MQTT payloads for the topics our processes consume: random bytes, and valid
messages mutated (truncated, invalid UTF-8, deep JSON, huge numbers, NUL in strings,
wrong types, unknown or missing fields, another hut, about 1 MB). Seeded, so a failure
replays with its seed.

What goes on the wire is ``Sealer.on_the_wire(kind, body, seal)``: the body validly
sealed with the hut's key (``Seal.RIGHT``: the parser behind the MAC is fuzzed), or in one
of the ways a receiver must refuse whatever the body holds (``REFUSED``: unsealed, sealed
with another hut's key, sealed for another kind of topic, altered after sealing)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from enum import Enum
from itertools import cycle
from typing import Any

from toolhut.contract import TopicKind
from toolhut.hut_keys import HutKey


class Seal(Enum):
    RIGHT = "sealed with the hut's key"
    NONE = "unsealed"
    OTHER_HUT = "sealed with another hut's key"
    OTHER_KIND = "sealed for another kind of topic"
    ALTERED = "sealed with the hut's key, then one byte changed"


REFUSED: tuple[Seal, ...] = (Seal.NONE, Seal.OTHER_HUT, Seal.OTHER_KIND, Seal.ALTERED)

# What the same end of the wire also seals: a message of that kind, captured and published
# on this topic, is the forgery nearest to hand.
_OTHER_KIND = {
    TopicKind.EVENTS: TopicKind.STATUS,
    TopicKind.STATUS: TopicKind.EVENTS,
    TopicKind.ACK: TopicKind.CMD,
    TopicKind.CMD: TopicKind.ALLOWLIST,
    TopicKind.ALLOWLIST: TopicKind.ACK,
}


class Sealer:
    """Puts hostile bodies on the wire of ``key``'s hut; ``other`` is another hut's key."""

    def __init__(self, rng: random.Random, *, key: HutKey, other: HutKey) -> None:
        if other.hut == key.hut:
            raise ValueError("the other key must be another hut's")
        self._rng = rng
        self.key = key
        self.other = other
        self._refused: Iterator[Seal] = cycle(REFUSED)

    def on_the_wire(self, kind: TopicKind, body: bytes, seal: Seal) -> bytes:
        if seal is Seal.NONE:
            return body
        key = self.other if seal is Seal.OTHER_HUT else self.key
        wire = key.seal(_OTHER_KIND[kind] if seal is Seal.OTHER_KIND else kind, _sealable(body))
        if seal is Seal.ALTERED:
            at = self._rng.randrange(len(wire))  # in the MAC, its member or the body
            wire = wire[:at] + bytes([wire[at] ^ (1 << self._rng.randrange(8))]) + wire[at + 1 :]
        return wire

    def copies(self, kind: TopicKind, body: bytes) -> list[tuple[Seal, bytes]]:
        """``body`` validly sealed, and once more in the next of the REFUSED ways (in turn,
        so each way is used as often as the others)."""
        refused = next(self._refused)
        return [(seal, self.on_the_wire(kind, body, seal)) for seal in (Seal.RIGHT, refused)]


def _sealable(body: bytes) -> bytes:
    """A seal goes in front of a JSON object's first member, and the receiver's parser
    reads ``{`` plus what follows the MAC: a body that is no object is sealed as what
    that parser then reads, ``{`` followed by the body."""
    return body if body.startswith(b"{") and not body.startswith(b'{"mac":"') else b"{" + body


ONE_MB = 1 << 20
# Values that are wrong somewhere, or right but nasty: none of them is a real card, tag,
# action or decision, so a mutated message that still parses does nothing a person notices.
HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    1.5,
    2**64,
    -(2**70),
    10**40,
    "",
    "\x00",
    "T9999\x00",
    "\u202e\U0001f6aa\ufeff",
    "2000-01-01T00:00:00Z",
    "x" * 5000,
    [],
    {},
    [None] * 50,
    {"v": 1},
)


def _deep(depth: int) -> bytes:
    return b'{"v":' * depth + b"1" + b"}" * depth


def _mutate_value(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    key = rng.choice(sorted(body))
    return {**body, key: rng.choice(HOSTILE_VALUES)}


def _mutate_nested(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    """A hostile value one level down (an ack in a batch, a feedback, a card hash)."""
    keys = [k for k, v in body.items() if isinstance(v, dict | list) and v]
    if not keys:
        return _mutate_value(rng, body)
    key = rng.choice(keys)
    inner = body[key]
    if isinstance(inner, dict):
        return {**body, key: _mutate_value(rng, inner)}
    i = rng.randrange(len(inner))
    item = (
        _mutate_value(rng, inner[i]) if isinstance(inner[i], dict) else rng.choice(HOSTILE_VALUES)
    )
    return {**body, key: [*inner[:i], item, *inner[i + 1 :]]}


def mutated(rng: random.Random, template: dict[str, Any], *, other_hut: str) -> bytes:
    """One hostile body made from a valid message ``template``."""
    valid = json.dumps(template, ensure_ascii=False).encode()
    how = rng.randrange(12)
    if how == 0:
        return valid[: rng.randrange(len(valid))]  # truncated
    if how == 1:
        at = rng.randrange(len(valid))
        return valid[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]) + valid[at:]
    if how == 2:
        return _deep(rng.choice([64, 1000, 20_000]))
    if how == 3:
        body = _mutate_value(rng, template)
    elif how == 4:
        body = _mutate_nested(rng, template)
    elif how == 5:
        body = dict(template)
        del body[rng.choice(sorted(body))]
    elif how == 6:
        body = {**template, rng.choice(["mac", "extra", "__proto__", ""]): 1}
    elif how == 7:
        body = {**template, "hut": other_hut}  # valid, but for another hut
    elif how == 8:
        key = rng.choice([k for k, v in template.items() if isinstance(v, str)])
        body = {**template, key: "x" * ONE_MB}  # about 1 MB
    elif how == 9:
        return rng.randbytes(rng.randrange(1, 400))
    elif how == 10:
        return rng.choice([b"", b"null", b"[]", b"{}", b'"\x00"', b"1e999999", b"-0", b"{" * 5])
    else:
        return valid.replace(b'"v":1', b'"v":' + b"9" * 5000, 1)  # a 5000-digit number
    return json.dumps(body, ensure_ascii=False).encode()


def hostile_bodies(
    rng: random.Random, template: dict[str, Any], *, count: int, other_hut: str
) -> list[bytes]:
    """``count`` hostile bodies; at most a few of about 1 MB each."""
    out: list[bytes] = []
    large = 0
    while len(out) < count:
        body = mutated(rng, template, other_hut=other_hut)
        if len(body) >= ONE_MB:
            large += 1
            if large > 3:
                continue
        out.append(body)
    return out
