"""Demo data: one hut, a bilingual inventory, first-aid supplies, two residents and a
staff member with cards."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.domain import Category, MemberFlag, MemberStatus
from server.storage.models import (
    Card,
    Consumable,
    ConsumableBatch,
    Hut,
    Item,
    Member,
    MemberFlagRow,
)
from server.storage.policy_store import ensure_category

log = logging.getLogger(__name__)

DEMO_HUT_NAME = "幸福里社区工具屋"
DEMO_HUT_ADDRESS = "幸福里小区 3号楼南侧"
# A hut seeded beside the first: its own name, no address (staff set them: hut set).
OTHER_HUT_NAME = "{hut_id} 工具屋"
# Items a partner organisation stocks the hut with: tag -> owner.
DEMO_OWNERS = {"T0002": "幸福里物业", "T0005": "街道体育协会", "T0006": "街道体育协会"}

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

# name, building_unit, card uid, flags
DEMO_MEMBERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("张阿姨", "3-201", "04A1B2C3", ()),
    ("李师傅", "5-502", "04D5E6F7", ()),
    # A staff card: tapping it starts a stocktake of the hut.
    ("社区管理员", "居委会", "04ABCDEF", (MemberFlag.STAFF,)),
)

# tag, name_zh, name_en, minimum level, batches (quantity, expires on)
DEMO_CONSUMABLES: tuple[tuple[str, str, str, int, tuple[tuple[int, date], ...]], ...] = (
    ("C0001", "创可贴", "Plasters", 10, ((30, date(2027, 6, 30)), (5, date(2026, 12, 15)))),
    ("C0002", "碘伏棉签", "Iodine swabs", 5, ((8, date(2027, 3, 1)),)),
    ("C0003", "医用纱布", "Gauze", 5, ((4, date(2027, 9, 1)),)),
)


def seed_demo(db_or_engine: Session | Engine, *, hut_id: str = "demo-hut") -> int:
    """Add what is missing of the demo data; returns how many rows were added.

    Keyed by hut id, item tag and card uid, so a second run adds nothing. Tags are unique
    across huts: seeding a second hut adds only the hut, named for its id (the demo's
    name and address are the first hut's). The caller's database session is
    flushed, not committed; with an engine, the data is committed.
    """
    if isinstance(db_or_engine, Session):
        return _seed(db_or_engine, hut_id=hut_id)
    with Session(db_or_engine) as db, db.begin():
        return _seed(db, hut_id=hut_id)


def _seed(db: Session, *, hut_id: str) -> int:
    added = 0
    if db.get(Hut, hut_id) is None:
        if db.scalars(select(Hut.id).limit(1)).first() is None:
            db.add(Hut(id=hut_id, name=DEMO_HUT_NAME, address=DEMO_HUT_ADDRESS))
        else:
            db.add(Hut(id=hut_id, name=OTHER_HUT_NAME.format(hut_id=hut_id)))
        added += 1
    for category in Category:
        ensure_category(db, category)  # the migration seeds them; a no-op then
    known_tags = set(db.scalars(select(Item.tag)))
    for tag, name_zh, name_en, category in DEMO_ITEMS:
        if tag not in known_tags:
            db.add(
                Item(
                    tag=tag,
                    name_zh=name_zh,
                    name_en=name_en,
                    category=category,
                    hut_id=hut_id,
                    owner=DEMO_OWNERS.get(tag),
                )
            )
            added += 1
    known_cards = set(db.scalars(select(Card.uid)))
    for name, building_unit, uid, flags in DEMO_MEMBERS:
        if uid not in known_cards:
            member = Member(name=name, building_unit=building_unit, status=MemberStatus.ACTIVE)
            member.flag_rows = [MemberFlagRow(flag=flag) for flag in flags]
            db.add_all([member, Card(uid=uid, member=member)])
            added += 2
    known_supplies = set(db.scalars(select(Consumable.tag)))
    for tag, name_zh, name_en, minimum, batches in DEMO_CONSUMABLES:
        if tag not in known_supplies:
            supply = Consumable(
                tag=tag,
                name_zh=name_zh,
                name_en=name_en,
                category=Category.FIRST_AID,
                hut_id=hut_id,
                min_quantity=minimum,
            )
            supply.batches = [ConsumableBatch(quantity=n, expires_on=day) for n, day in batches]
            db.add(supply)
            added += 1
    db.flush()
    log.info("seeded hut %s: %d rows added", hut_id, added)
    return added
