"""Fitting text into a box: wrap, then shrink, then (last resort) cut with an ellipsis."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

LINE_SPACING = 1.15
_PT_MM = 25.4 / 72
# Latin words and numbers stay whole where possible; every other character may break a line.
_TOKEN = re.compile(r"[A-Za-z0-9'’.,:;!?()\[\]/&+\-]+| |.")
# A tag breaks only after its separators, so each line is a recognisable piece of it.
_TAG_PIECE = re.compile(r"[^._-]*[._-]+|[^._-]+")
ELLIPSIS = "…"
# Line-breaking rules for Chinese (GB/T 15834 usage): these never start a line...
CLOSING = frozenset("、，。．：；！？）」』】〕〉》〗〙〛”’…‥%‰℃,.:;!?)]}")
# ...and these never end one.
OPENING = frozenset("（「『【〔〈《〖〘〚“‘([{")

Measure = Callable[[str, float], float]  # (text, size in pt) -> width in mm


@dataclass(frozen=True, slots=True)
class Fitted:
    lines: tuple[str, ...]
    size_pt: float
    truncated: bool = False

    @property
    def line_mm(self) -> float:
        return line_height(self.size_pt)


def line_height(size_pt: float) -> float:
    return size_pt * _PT_MM * LINE_SPACING


def tokens_of(text: str) -> list[str]:
    """Pieces a line may break between: closing punctuation stays with what precedes it,
    opening punctuation with what follows."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if (
            out
            and token != " "
            and out[-1] != " "
            and (token[0] in CLOSING or out[-1][-1] in OPENING)
        ):
            out[-1] += token
        else:
            out.append(token)
    return out


def tag_tokens(tag: str) -> list[str]:
    return _TAG_PIECE.findall(tag)


def unit_tokens(units: Sequence[str]) -> list[str]:
    """``units`` joined by spaces, breaking only between one another."""
    out: list[str] = []
    for unit in units:
        out.extend([unit, " "])
    return out[:-1]


def _break_chars(token: str, *, measure: Measure, size_pt: float, width_mm: float) -> list[str]:
    """A token wider than the line, cut between characters, never before closing or after
    opening punctuation (a character moves down with it instead)."""
    pieces: list[str] = []
    current = ""
    for ch in token:
        if current and measure(current + ch, size_pt) > width_mm:
            if len(current) > 1 and (ch in CLOSING or current[-1] in OPENING):
                pieces.append(current[:-1])
                current = current[-1]
            else:
                pieces.append(current)
                current = ""
        current += ch
    if current:
        pieces.append(current)
    return pieces


def wrap(
    text: str,
    *,
    measure: Measure,
    size_pt: float,
    width_mm: float,
    tokens: Sequence[str] | None = None,
) -> list[str]:
    """Greedy line breaking between ``tokens`` (they join up to ``text``; default
    ``tokens_of(text)``); a token alone wider than the line is broken between characters."""
    lines: list[str] = []
    current, used = "", 0.0  # ``used`` includes trailing spaces; widths add up (no kerning)
    space = measure(" ", size_pt)
    for token in tokens_of(text) if tokens is None else tokens:
        if token == " ":
            if current:
                current, used = current + " ", used + space
            continue
        width = measure(token, size_pt)
        if used + width <= width_mm:
            current, used = current + token, used + width
            continue
        if current.strip():
            lines.append(current.rstrip())
        current, used = "", 0.0
        if width <= width_mm:
            current, used = token, width
            continue
        *whole, current = _break_chars(token, measure=measure, size_pt=size_pt, width_mm=width_mm)
        lines.extend(whole)
        used = measure(current, size_pt)
    if current.strip():
        lines.append(current.rstrip())
    return lines


def fit(
    text: str,
    *,
    measure: Measure,
    width_mm: float,
    height_mm: float,
    max_pt: float,
    min_pt: float,
    max_lines: int,
    tokens: Sequence[str] | None = None,
) -> Fitted:
    """The largest size (0.25 pt steps) at which ``text`` fits; cut only as a last resort.

    ``truncated`` is True exactly when characters of ``text`` were left out.
    """
    if not text:
        return Fitted((), min_pt)

    def lines_at(size: float) -> list[str]:
        return wrap(text, measure=measure, size_pt=size, width_mm=width_mm, tokens=tokens)

    def attempt(size: float) -> list[str] | None:
        lines = lines_at(size)
        fits = len(lines) <= max_lines and len(lines) * line_height(size) <= height_mm + 1e-9
        return lines if fits else None

    # Smaller text never needs more lines, so the sizes that fit form a range: bisect it.
    low, high = 0, int(round((max_pt - min_pt) / 0.25))
    best: tuple[float, list[str]] | None = None
    while low <= high:
        mid = (low + high) // 2
        size = min_pt + mid * 0.25
        lines = attempt(size)
        if lines is not None:
            best = (size, lines)
            low = mid + 1
        else:
            high = mid - 1
    if best is not None:
        return Fitted(tuple(best[1]), best[0])
    # Too long even at the smallest size: keep what fits and mark the cut.
    size = min_pt
    rows = max(1, min(max_lines, int((height_mm + 1e-9) // line_height(size))))
    every = lines_at(size)
    if len(every) <= rows:
        # Whole, only the box is lower than one line: nothing to cut, so nothing to mark.
        return Fitted(tuple(every), size)
    lines = every[:rows]
    last = lines[-1]
    while last and (measure(last + ELLIPSIS, size) > width_mm or last[-1] in OPENING):
        last = last[:-1].rstrip()
    lines[-1] = last + ELLIPSIS
    return Fitted(tuple(lines), size, truncated=True)


def lines_needed(
    text: str, *, measure: Measure, size_pt: float, width_mm: float, tokens: Sequence[str] | None
) -> int:
    return len(wrap(text, measure=measure, size_pt=size_pt, width_mm=width_mm, tokens=tokens))
