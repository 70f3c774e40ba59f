"""A district's day at its huts, as a schedule the simulated gateways replay
(bench/district.py).

Each hut has its residents' visits: ``VISITS_PER_HUT`` a day, drawn around a morning and an
evening peak with a thin spread over the opening day, each visit a card tap, the door
opening, one to three scans (bring back what the resident has out, take something new)
and the door closing. A few huts go silent for a while (a cut cable, a router rebooting)
and drain their outbox when they come back. Everything is drawn from one seed, so two
runs replay the same day.

Times are seconds of the simulated day (0 = midnight, hut time); the replay divides them
by its compression.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

DAY_S = 24 * 3600.0
VISITS_PER_HUT = 20
MEMBERS_PER_HUT = 40
LENDABLE_PER_HUT = 20  # items the day's visits lend; the hut's others are out since before
ITEMS_PER_HUT = 30
OUTAGE_SHARE = 0.02  # of the huts, each silent once in the day
OUTAGE_S = (1.5 * 3600.0, 4 * 3600.0)  # how long a silent hut stays silent, simulated

# When residents come (hour of the day, spread in hours, share of the visits): before
# work, after work, and a thin spread over the opening day.
PEAKS = ((7.75, 0.9, 0.35), (19.0, 1.3, 0.45))
OPEN_HOURS = (7.0, 22.0)
# Inside a visit, in simulated seconds from the card tap.
DOOR_OPENS_AFTER_S = 4.0
SCAN_EVERY_S = 25.0
DOOR_CLOSES_AFTER_LAST_S = 30.0

EventKind = Literal["card", "door_open", "scan", "door_close"]


@dataclass(frozen=True, slots=True)
class Step:
    """One event a gateway records: when (simulated day seconds), which hut, what."""

    at_s: float
    hut: int
    kind: EventKind
    visit: int  # the hut's visit number: its door session
    member: int  # the hut's member number (card)
    item: int | None = None  # scans: the hut's item number


@dataclass(frozen=True, slots=True)
class Outage:
    hut: int
    start_s: float
    end_s: float


@dataclass(slots=True)
class DistrictDay:
    huts: int
    steps: list[Step] = field(default_factory=list)  # in time order
    outages: list[Outage] = field(default_factory=list)

    @property
    def visits(self) -> int:
        return sum(1 for s in self.steps if s.kind == "card")


def visit_time(rng: random.Random) -> float:
    """A visit's start, simulated seconds of the day, inside the opening hours."""
    while True:
        pick = rng.random()
        for hour, spread, share in PEAKS:
            if pick < share:
                at = rng.gauss(hour, spread)
                break
            pick -= share
        else:
            at = rng.uniform(*OPEN_HOURS)
        if OPEN_HOURS[0] <= at <= OPEN_HOURS[1]:
            return at * 3600.0


def _hut_visits(hut: int, rng: random.Random) -> list[Step]:
    """One hut's visits: who comes, what they bring back and take. Items out with a
    member come back at their next visit or stay out; an item is lent to one member at
    a time; a member holds at most two (the loan rules allow three of a category)."""
    holding: dict[int, list[int]] = {}
    on_shelf = list(range(LENDABLE_PER_HUT))
    steps: list[Step] = []
    starts = sorted(visit_time(rng) for _ in range(VISITS_PER_HUT))
    for visit, start in enumerate(starts):
        member = rng.randrange(MEMBERS_PER_HUT)
        held = holding.setdefault(member, [])
        scans: list[int] = []
        if held and rng.random() < 0.7:
            scans.append(held.pop(0))
            on_shelf.append(scans[-1])
        if on_shelf and len(held) < 2 and (not scans or rng.random() < 0.5):
            item = on_shelf.pop(rng.randrange(len(on_shelf)))
            held.append(item)
            scans.append(item)
        at = start
        steps.append(Step(at, hut, "card", visit, member))
        at += DOOR_OPENS_AFTER_S
        steps.append(Step(at, hut, "door_open", visit, member))
        for item in scans:
            at += SCAN_EVERY_S * (0.5 + rng.random())
            steps.append(Step(at, hut, "scan", visit, member, item))
        steps.append(Step(at + DOOR_CLOSES_AFTER_LAST_S, hut, "door_close", visit, member))
    return steps


def plan_day(huts: int, *, seed: int = 15) -> DistrictDay:
    """The district's day: every hut's visits, in time order, and its outages."""
    rng = random.Random(seed)
    day = DistrictDay(huts)
    for hut in range(huts):
        day.steps.extend(_hut_visits(hut, random.Random(rng.getrandbits(64))))
    day.steps.sort(key=lambda s: s.at_s)
    silent = rng.sample(range(huts), max(1, round(huts * OUTAGE_SHARE)))
    for hut in sorted(silent):
        # In the busy hours, so the hut comes back with a backlog to drain.
        start = rng.uniform(8 * 3600.0, 17 * 3600.0)
        day.outages.append(Outage(hut, start, start + rng.uniform(*OUTAGE_S)))
    return day
