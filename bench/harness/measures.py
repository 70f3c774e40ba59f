"""A measure: the same figure taken several times, its median and spread, the raw part it
is held against (measured in the same runs) and the target it is judged by.

Why ratios: these machines are shared, so an absolute rate moves from one minute to the
next; the product's figure over its raw part's, taken in the same run, moves far less.
The ratio is the median of the per-run ratios when product and floor were taken in pairs
(each run measures the floor, then the product), else the ratio of the medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


def _kept(value: float | None) -> float | None:
    """Six significant digits: more than any of these figures can tell, and readable JSON."""
    return None if value is None else float(f"{value:.6g}")


def _all_kept(values: Sequence[float] | None) -> list[float] | None:
    return None if values is None else [float(f"{v:.6g}") for v in values]


def percentile(samples: Sequence[float], p: int) -> float:
    """The ``p``-th percentile (1..99) of ``samples`` (statistics' exclusive method, as the
    benches have always used); a single sample is its own percentile."""
    if len(samples) < 2:
        return float(samples[0])
    return statistics.quantiles(samples, n=100)[p - 1]


def repeat(runs: int, one_run: Callable[[int], Mapping[str, float]]) -> dict[str, list[float]]:
    """Call ``one_run(i)`` ``runs`` times; each returns its named figures (a floor and the
    product, say), gathered here as one list per name, in run order."""
    gathered: dict[str, list[float]] = {}
    for i in range(runs):
        for name, value in one_run(i).items():
            gathered.setdefault(name, []).append(float(value))
    return gathered


@dataclass(frozen=True, slots=True)
class Target:
    """What a measure must reach: a bound on its ratio to the floor or on its median.
    ``text`` is what the report shows (the issue's wording)."""

    text: str
    of: Literal["ratio", "median"]
    at_most: float | None = None
    at_least: float | None = None

    def met(self, *, median: float, ratio: float | None) -> bool | None:
        value = ratio if self.of == "ratio" else median
        if value is None:
            return None
        if self.at_most is not None and value > self.at_most:
            return False
        return not (self.at_least is not None and value < self.at_least)


def ratio_at_least(bound: float, text: str) -> Target:
    return Target(text, "ratio", at_least=bound)


def ratio_at_most(bound: float, text: str) -> Target:
    return Target(text, "ratio", at_most=bound)


def at_most(bound: float, text: str) -> Target:
    return Target(text, "median", at_most=bound)


@dataclass(frozen=True, slots=True)
class Floor:
    """The raw part under a measure: the same work done by the bare parts."""

    name: str
    unit: str
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "runs": _all_kept(self.runs),
            "median": _kept(self.median),
        }


@dataclass(frozen=True, slots=True)
class Measure:
    measure: str
    unit: str
    runs: list[float]
    target: Target | None = None
    floor: Floor | None = None
    # Free-form figures of the runs that the target does not judge (events sent, seconds
    # sustained, ...): kept in the JSON, not shown in the report.
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError(f"measure {self.measure!r} has no runs")

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def ratios(self) -> list[float] | None:
        """Per run, product over floor, when both were taken in the same runs."""
        if self.floor is None or len(self.floor.runs) != len(self.runs):
            return None
        return [
            p / f if f else float("inf") for p, f in zip(self.runs, self.floor.runs, strict=True)
        ]

    @property
    def ratio(self) -> float | None:
        if self.floor is None:
            return None
        paired = self.ratios
        if paired is not None:
            return statistics.median(paired)
        return self.median / self.floor.median if self.floor.median else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.target.met(median=self.median, ratio=self.ratio)

    def to_json(self) -> dict[str, Any]:
        """A measure as bench/result.schema.json has it (bench/district.py writes it too)."""
        return {
            "measure": self.measure,
            "unit": self.unit,
            "runs": _all_kept(self.runs),
            "median": _kept(self.median),
            "spread": _all_kept([min(self.runs), max(self.runs)]),
            "floor": None if self.floor is None else self.floor.to_json(),
            "ratio": _kept(self.ratio),
            "target": "none set" if self.target is None else self.target.text,
            "met": self.met,
            # Added fields (readers may ignore them):
            "ratios": _all_kept(self.ratios),
            "details": self.details,
        }
