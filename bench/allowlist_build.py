"""One hut's allowlist in a district (issue 15): its size on the wire and the CPU time the
server takes to build and seal it, at 500 huts and 20,000 cards (40 residents a hut, each
limited to their own hut, so every other hut's cards are ``elsewhere`` there).

    python bench/allowlist_build.py [--huts 500] [--sample 20] [--runs 3] [--quick]

In one process, no database and no broker: the cards are made in memory as
``server.storage.queries.card_states`` returns them, then ``server/allowlists.py`` does
what a publish does for each of ``--sample`` huts: the hut's part of the access list, its
digest, the list (every card hashed with the hut's key and the list's salt) and its seal.
CPU time (``time.process_time``) per hut, the median of the sampled huts in each run; the
size is the sealed payload's. ``--quick``: 20 huts, 5 sampled. No target: the figures are
read against the lists' sizes in docs/scaling.md.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from harness import BenchRun, Measure, parser, repeat

from server.allowlists import CardAccessList
from server.domain import CardStatus, MemberStatus
from server.storage.models import Hut
from server.storage.queries import CardOfMember
from toolhut.hut_keys import HutKeyring

CARDS_PER_HUT = 40
RING = HutKeyring(b"b" * 32)
ISSUED = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Size:
    huts: int
    sample: int


FULL = Size(huts=500, sample=20)
QUICK = Size(huts=20, sample=5)


def district_cards(huts: int) -> list[CardOfMember]:
    return [
        CardOfMember(
            uid=f"{h:04X}{m:04X}",
            state=CardStatus.ACTIVE,
            member_status=MemberStatus.ACTIVE,
            member_huts=frozenset({hut_name(h)}),
            member_flags=frozenset(),
        )
        for h in range(huts)
        for m in range(CARDS_PER_HUT)
    ]


def hut_name(h: int) -> str:
    return f"hut-{h:04d}"


def one_run(size: Size) -> dict[str, float]:
    cards = district_cards(size.huts)
    started = time.process_time()
    access = CardAccessList.of(cards)
    shared_ms = (time.process_time() - started) * 1000
    step = max(1, size.huts // size.sample)
    cpu_ms, sizes = [], []
    for h in range(0, size.huts, step)[: size.sample]:
        hut = Hut(id=hut_name(h), name=hut_name(h))
        key = RING(hut.id)
        started = time.process_time()
        hut_access = access.for_hut(hut)
        hut_access.digest(key)
        payload = hut_access.allowlist(key=key, version=1, issued=ISSUED).sealed(key)
        cpu_ms.append((time.process_time() - started) * 1000)
        sizes.append(len(payload))
    return {
        "cpu_ms": statistics.median(cpu_ms),
        "size_kb": statistics.median(sizes) / 1000,
        "shared_ms": shared_ms,
    }


def main() -> int:
    p = parser(__doc__, runs=3)
    p.add_argument("--huts", type=int, default=None, help="default 500; quick 20")
    p.add_argument("--sample", type=int, default=None, help="huts timed a run (default 20)")
    args = p.parse_args()
    run = BenchRun("allowlist_build", args)
    base = QUICK if run.quick else FULL
    size = Size(huts=args.huts or base.huts, sample=args.sample or base.sample)
    runs = repeat(run.runs, lambda _i: one_run(size))
    cards = f"{size.huts} huts, {size.huts * CARDS_PER_HUT:,} cards"
    details = {"huts sampled": size.sample, "cards per hut": CARDS_PER_HUT}
    run.add(Measure(f"one hut's allowlist, sealed, {cards}", "kB", runs["size_kb"],
                    details=details))  # fmt: skip
    run.add(Measure(f"build, digest and seal one hut's list (CPU), {cards}", "ms",
                    runs["cpu_ms"], details=details))  # fmt: skip
    run.add(Measure(f"every card's access, once for all huts (CPU), {cards}", "ms",
                    runs["shared_ms"]))  # fmt: skip
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
