"""Hostile MQTT payloads for the topics our processes consume: random bytes, and valid
messages mutated (truncated, invalid UTF-8, deep JSON, huge numbers, NUL in strings,
wrong types, unknown or missing fields, another hut, about 1 MB). Seeded, so a failure
replays with its seed.

What goes on the wire is ``on_the_wire(kind, body)``: today the body as it is. Once the
messages are sealed (toolhut/hut_keys.py), that one function seals each mutated body with
the hut's key, so the parser behind the MAC is fuzzed too, and the unsealed bodies become
one more case that must be refused."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from toolhut.contract import TopicKind

OnTheWire = Callable[[TopicKind, bytes], bytes]


def unsealed(kind: TopicKind, body: bytes) -> bytes:
    """Messages as they travel before sealing lands: the body itself."""
    return body


on_the_wire: OnTheWire = unsealed

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
