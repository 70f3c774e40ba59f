"""What the ledger benches share: a scratch database and the huts, members, cards and
items they seed into it (bench/ingest_throughput.py, bench/ledger_step.py).

Imports only what every tree the benches compare has (the ledger before the rule book
too), so bench/alternate.sh can run a bench against either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import harness  # noqa: F401  (puts this tree on the path: tests.support, below)
from sqlalchemy.orm import Session

from server.storage.models import Card, Hut, Item, Member

ITEMS_PER_HUT = 20


def hut_id(h: int) -> str:
    return f"hut-{h:03d}"


def card_uid(h: int) -> str:
    return f"0B{h:06X}"


def tag(h: int, i: int) -> str:
    return f"B{h:03d}{i:03d}"


def seed(db: Session, huts: int) -> None:
    """``huts`` huts, each with one member (and card) and ITEMS_PER_HUT hand tools."""
    db.execute(
        Hut.__table__.insert(),
        [{"id": hut_id(h), "name": hut_id(h), "timezone": "Asia/Shanghai",
          "allowlist_version": 0} for h in range(huts)],
    )  # fmt: skip
    for h in range(huts):
        member = Member(name=f"m{h}", building_unit="1-1")
        db.add_all([member, Card(uid=card_uid(h), member=member)])
        for i in range(ITEMS_PER_HUT):
            db.add(
                Item(tag=tag(h, i), name_zh="工具", name_en="tool", category="hand_tools",
                     hut_id=hut_id(h))
            )  # fmt: skip


@contextmanager
def scratch_db(url: str | None, tmp: Path) -> Iterator[str]:
    """A new SQLite file in ``tmp``, or a new schema in the PostgreSQL database ``url``
    (the tests' own, tests/support/services.py; dropped after, no other schema touched)."""
    if url is None:
        yield f"sqlite:///{tmp / 'bench.sqlite3'}"
        return
    from tests.support.services import fresh_postgres_schema

    with fresh_postgres_schema(url) as schema_url:
        yield schema_url
