"""Fitting text into a box: wrap, then shrink, then (last resort) cut with an ellipsis."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

LINE_SPACING = 1.15
_PT_MM = 25.4 / 72
# Latin words and numbers stay whole where possible; every other character may break a line.
_TOKEN = re.compile(r"[A-Za-z0-9'’.,:;!?()\[\]/&+\-]+| |.")
ELLIPSIS = "…"

Measure = Callable[[str, float], float]  # (text, size in pt) -> width in mm


@dataclass(frozen=True, slots=True)
class Fitted:
    lines: tuple[str, ...]
    size_pt: float
    truncated: bool = False

    @property
    def line_mm(self) -> float:
        return self.size_pt * _PT_MM * LINE_SPACING


def _tokens(text: str, units: tuple[str, ...]) -> list[str]:
    if not units:
        return _TOKEN.findall(text)
    out: list[str] = []
    for unit in units:
        out.extend([unit, " "])
    return out[:-1]


def wrap(
    text: str, *, measure: Measure, size_pt: float, width_mm: float, units: tuple[str, ...] = ()
) -> list[str]:
    """Greedy line breaking; ``units`` (joined by spaces they make up ``text``) break only between
    one another unless one alone is wider than the line."""
    lines: list[str] = []
    current, used = "", 0.0  # ``used`` includes trailing spaces; widths add up (no kerning)
    space = measure(" ", size_pt)
    for token in _tokens(text, units):
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
        # The token alone is wider than the line: break it between characters.
        for ch in token:
            w = measure(ch, size_pt)
            if current and used + w > width_mm:
                lines.append(current)
                current, used = "", 0.0
            current, used = current + ch, used + w
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
    units: tuple[str, ...] = (),
) -> Fitted:
    """The largest size (0.25 pt steps) at which ``text`` fits; cut only as a last resort."""
    if not text:
        return Fitted((), min_pt)

    def attempt(size: float) -> list[str] | None:
        lines = wrap(text, measure=measure, size_pt=size, width_mm=width_mm, units=units)
        fits = (
            len(lines) <= max_lines
            and len(lines) * size * _PT_MM * LINE_SPACING <= height_mm + 1e-9
        )
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
    rows = max(1, min(max_lines, int((height_mm + 1e-9) // (size * _PT_MM * LINE_SPACING))))
    lines = wrap(text, measure=measure, size_pt=size, width_mm=width_mm, units=units)[:rows]
    last = lines[-1]
    while last and measure(last + ELLIPSIS, size) > width_mm:
        last = last[:-1]
    lines[-1] = last.rstrip() + ELLIPSIS
    return Fitted(tuple(lines), size, truncated=True)
