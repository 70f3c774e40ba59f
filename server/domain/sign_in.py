"""The shape of a resident's one-time sign-in code: 8 digits, shown in two halves on the
hut's display and in messages (server/residents/codes.py issues and redeems them)."""

from __future__ import annotations

from enum import StrEnum

CODE_DIGITS = 8


class Via(StrEnum):
    """How a code reaches the resident (stored as text in ``resident_codes.via``)."""

    HUT = "hut"  # on the hut's display, after the member's card tap
    CHANNEL = "channel"  # in a message through the member's own reminder channel


def shown(code: str) -> str:
    """``48291735`` as the display and messages show it: ``4829 1735``."""
    half = len(code) // 2
    return f"{code[:half]} {code[half:]}"
