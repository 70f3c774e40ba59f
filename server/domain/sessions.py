"""Door sessions: who opened which hut, what they scanned, and what staff should look at
afterwards. A staff card's session is a stocktake: scans are counted, not lent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from server.domain.model import MemberFlag


class SessionMode(StrEnum):
    LENDING = "lending"
    STOCKTAKE = "stocktake"


class SessionFlag(StrEnum):
    UNSCANNED = "unscanned"  # door opened, nothing scanned: possible unscanned removal
    NOBODY = "nobody"  # a scan in it had no card (staff heard of it once, as an anomaly)


class StocktakeResult(StrEnum):
    SEEN = "seen"  # expected here and scanned
    MISSING = "missing"  # expected here, not scanned
    UNEXPECTED = "unexpected"  # scanned, not expected here (elsewhere, on loan, unknown)


def session_mode(flags: Iterable[str]) -> SessionMode:
    return SessionMode.STOCKTAKE if MemberFlag.STAFF in set(flags) else SessionMode.LENDING


def flag_on_close(*, mode: SessionMode, door_opened: bool, scans: int) -> SessionFlag | None:
    if mode is SessionMode.LENDING and door_opened and scans == 0:
        return SessionFlag.UNSCANNED
    return None


@dataclass(frozen=True, slots=True)
class StocktakeLine:
    tag: str
    result: StocktakeResult
    count: int  # times scanned


def stocktake_report(*, expected: Iterable[str], seen: Mapping[str, int]) -> list[StocktakeLine]:
    """Compare the tags that should be on the shelf with those scanned (tag -> times)."""
    wanted = set(expected)
    lines = [
        StocktakeLine(
            tag,
            StocktakeResult.SEEN if tag in seen else StocktakeResult.MISSING,
            seen.get(tag, 0),
        )
        for tag in wanted
    ]
    lines += [
        StocktakeLine(tag, StocktakeResult.UNEXPECTED, count)
        for tag, count in seen.items()
        if tag not in wanted
    ]
    return sorted(lines, key=lambda line: (line.result.value, line.tag))
