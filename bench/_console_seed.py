"""A district's records for bench/console_pages.py, at the size issue 14 names: 50 huts,
10,000 items, 5,000 members (each with a card), 2,000 loans open (a quarter overdue) and
20,000 closed over the last 12 weeks, written with Core inserts on either database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select

from server.storage.models import Card, Hut, Item, ItemCategory, Loan, Member, MemberHut

HUTS = 50
ITEMS = 10_000
MEMBERS = 5_000
OPEN_LOANS = 2_000
CLOSED_LOANS = 20_000
NAMES = [
    ("冲击电钻", "Impact drill"),
    ("人字梯", "Step ladder"),
    ("急救箱", "First-aid kit"),
    ("瑜伽垫", "Yoga mat"),
    ("电动螺丝刀", "Cordless screwdriver"),
    ("扳手套装", "Spanner set"),
    ("手推车", "Hand truck"),
    ("血压计", "Blood pressure monitor"),
]


def hut_id(h: int) -> str:
    return f"bench-{h:02d}"


def seed(engine: Engine, *, now: datetime) -> dict[str, int]:
    with engine.begin() as conn:
        categories = [row[0] for row in conn.execute(select(ItemCategory.key))]
        conn.execute(
            insert(Hut),
            [
                {"id": hut_id(h), "name": f"第{h + 1}号工具屋", "timezone": "Asia/Shanghai",
                 "address": f"阳光社区{h + 1}栋旁", "contact_phone": "021-5555 0000",
                 "allowlist_version": 0, "version": 1}
                for h in range(HUTS)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Item),
            [
                {"id": i + 1, "tag": f"B{i:05d}", "name_zh": NAMES[i % len(NAMES)][0],
                 "name_en": NAMES[i % len(NAMES)][1], "category": categories[i % len(categories)],
                 "hut_id": hut_id(i % HUTS), "condition": "ok",
                 "status": "on_loan" if i < OPEN_LOANS else "available", "version": 1}
                for i in range(ITEMS)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Member),
            [
                {"id": m + 1, "name": f"居民{m + 1}", "building_unit": f"{m % 30 + 1}-{m % 6 + 1}",
                 "phone": f"138{m:08d}", "language": "zh", "status": "active", "version": 1,
                 "created_at": now - timedelta(days=400)}
                for m in range(MEMBERS)
            ],
        )  # fmt: skip
        conn.execute(
            insert(Card),
            [
                {"uid": f"{0xB0000000 + m:08X}", "member_id": m + 1, "state": "active",
                 "bound_at": now - timedelta(days=400)}
                for m in range(MEMBERS)
            ],
        )  # fmt: skip
        conn.execute(
            insert(MemberHut),
            [{"member_id": m + 1, "hut_id": hut_id(m % HUTS)} for m in range(MEMBERS)],
        )
        week = timedelta(days=7)
        loans = [
            {"item_id": i + 1, "member_id": (i * 7) % MEMBERS + 1, "hut_id": hut_id(i % HUTS),
             "borrowed_at": now - timedelta(days=3 + i % 10),
             "due_at": now + timedelta(days=4) - timedelta(days=i % 8), "renewals": 0}
            for i in range(OPEN_LOANS)
        ]  # fmt: skip
        conn.execute(insert(Loan), loans)  # open ones; the closed ones have more columns
        closed = []
        for n in range(CLOSED_LOANS):
            at = now - 12 * week * (n + 1) / CLOSED_LOANS
            item = OPEN_LOANS + n % (ITEMS - OPEN_LOANS)
            closed.append(
                {"item_id": item + 1, "member_id": (n * 13) % MEMBERS + 1,
                 "hut_id": hut_id(item % HUTS), "borrowed_at": at - timedelta(days=3),
                 "due_at": at + timedelta(days=4), "returned_at": at,
                 "returned_hut_id": hut_id(item % HUTS), "renewals": 0}
            )  # fmt: skip
        conn.execute(insert(Loan), closed)
    return {"huts": HUTS, "items": ITEMS, "members": MEMBERS, "loans": len(loans) + len(closed)}
