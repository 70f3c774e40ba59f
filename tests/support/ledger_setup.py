"""Huts, residents and items for the multi-hut process tests (scale-out, faults), and what
a server process says about its work when it stops."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from server.domain import Category
from server.storage import make_engine, migrate
from server.storage.models import Card, Hut, Item, Member
from tests.support.processes import ToolhutProcess


class HutFurnishing(Protocol):
    @property
    def hut(self) -> str: ...
    @property
    def cards(self) -> tuple[str, ...]: ...
    @property
    def items(self) -> Mapping[str, Category]: ...  # tag -> category


def name_of(tag: str) -> str:
    return f"工具{tag}号"  # fixed width: no item's name holds another's


def furnish(db_url: str, huts: Sequence[HutFurnishing]) -> None:
    """Migrate ``db_url`` and add each hut with a resident per card and its items."""
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            for n, plan in enumerate(huts):
                session.add(Hut(id=plan.hut, name=f"{n + 1}号工具屋"))
                for m, uid in enumerate(plan.cards):
                    member = Member(name=f"居民{n}{m}", building_unit=f"{n + 1}-{m + 1}01")
                    session.add_all([member, Card(uid=uid, member=member)])
                for tag, category in plan.items.items():
                    session.add(
                        Item(
                            tag=tag,
                            name_zh=name_of(tag),
                            name_en=f"Tool {tag}",
                            category=category,
                            hut_id=plan.hut,
                        )
                    )
    finally:
        engine.dispose()


def stop_line(proc: ToolhutProcess) -> tuple[int, Counter[str]]:
    """(messages taken from the broker, acks sent by outcome), as the process said on exit."""
    for line in proc.lines:
        found = re.search(r"ingest worker stopped: (\d+) messages taken, acked (.*)$", line)
        if found:
            pairs = (pair.split("=") for pair in found.group(2).split() if "=" in pair)
            return int(found.group(1)), Counter({k: int(v) for k, v in pairs})
    raise AssertionError(f"no stop line from {proc.args}:\n" + "\n".join(proc.lines[-20:]))
