"""Demo data: one hut, a bilingual inventory and two residents with cards."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.domain import Category, MemberStatus
from server.storage.models import Card, Hut, Item, Member

log = logging.getLogger(__name__)

DEMO_HUT_NAME = "幸福里社区工具屋"

# tag, name_zh, name_en, category
DEMO_ITEMS: tuple[tuple[str, str, str, Category], ...] = (
    ("T0001", "电钻", "Power drill", Category.POWER_TOOLS),
    ("T0002", "冲击钻", "Impact drill", Category.POWER_TOOLS),
    ("T0003", "梯子", "Ladder", Category.LADDERS),
    ("T0004", "急救包", "First-aid kit", Category.FIRST_AID),
    ("T0005", "哑铃", "Dumbbells", Category.FITNESS),
    ("T0006", "瑜伽垫", "Yoga mat", Category.FITNESS),
    ("T0007", "螺丝刀套装", "Screwdriver set", Category.HAND_TOOLS),
    ("T0008", "卷尺", "Tape measure", Category.HAND_TOOLS),
    ("T0009", "扳手套装", "Wrench set", Category.HAND_TOOLS),
    ("T0010", "电动螺丝刀", "Electric screwdriver", Category.POWER_TOOLS),
)

# name, building_unit, card uid
DEMO_MEMBERS: tuple[tuple[str, str, str], ...] = (
    ("张阿姨", "3-201", "04A1B2C3"),
    ("李师傅", "5-502", "04D5E6F7"),
)


def seed_demo(session_or_engine: Session | Engine, *, hut_id: str = "demo-hut") -> int:
    """Add what is missing of the demo data; returns how many rows were added.

    Keyed by hut id, item tag and card uid, so a second run adds nothing. Tags are unique
    across huts: seeding a second hut adds only the hut. The caller's session is flushed,
    not committed; with an engine, the data is committed.
    """
    if isinstance(session_or_engine, Session):
        return _seed(session_or_engine, hut_id=hut_id)
    with Session(session_or_engine) as session, session.begin():
        return _seed(session, hut_id=hut_id)


def _seed(session: Session, *, hut_id: str) -> int:
    added = 0
    if session.get(Hut, hut_id) is None:
        session.add(Hut(id=hut_id, name=DEMO_HUT_NAME))
        added += 1
    known_tags = set(session.scalars(select(Item.tag)))
    for tag, name_zh, name_en, category in DEMO_ITEMS:
        if tag not in known_tags:
            session.add(
                Item(tag=tag, name_zh=name_zh, name_en=name_en, category=category, hut_id=hut_id)
            )
            added += 1
    known_cards = set(session.scalars(select(Card.uid)))
    for name, building_unit, uid in DEMO_MEMBERS:
        if uid not in known_cards:
            member = Member(name=name, building_unit=building_unit, status=MemberStatus.ACTIVE)
            session.add_all([member, Card(uid=uid, member=member)])
            added += 2
    session.flush()
    log.info("seeded hut %s: %d rows added", hut_id, added)
    return added
