"""The district's database before its day (bench/district.py): huts, residents with their
cards, items, and the loans of the days before, written by PostgreSQL itself
(generate_series), as a district that has run for a while would have them.

Per hut: ``MEMBERS_PER_HUT`` members, each with one card and limited to that hut (at the
others the card is ``elsewhere``); ``ITEMS_PER_HUT`` hand tools, of
which the first ``LENDABLE_PER_HUT`` are on the shelf for the day's visits and the others
out since before (due over the last ten days and the next three: what the reminder sweep
finds); behind them ``history_days`` of closed loans, a visit's worth a day per item.
"""

from __future__ import annotations

from datetime import datetime

from _district_day import ITEMS_PER_HUT, LENDABLE_PER_HUT, MEMBERS_PER_HUT, VISITS_PER_HUT
from sqlalchemy import Engine, text

# A closed loan per this many visits of the days before: most visits lend or bring back.
LOANS_PER_VISIT = 0.6


def hut_id(h: int) -> str:
    return f"district-{h:03d}"


def card_uid(h: int, m: int) -> str:
    """Member ``m`` of hut ``h``: 8 hex digits, upper case, as a reader gives them."""
    return f"{0xD0000000 + h * 256 + m:08X}"


def tag(h: int, i: int) -> str:
    return f"D{h:03d}{i:03d}"


def member_id(h: int, m: int) -> int:
    return h * MEMBERS_PER_HUT + m + 1


def item_id(h: int, i: int) -> int:
    return h * ITEMS_PER_HUT + i + 1


def history_loans(huts: int, history_days: int) -> int:
    return round(huts * VISITS_PER_HUT * LOANS_PER_VISIT * history_days)


def seed(engine: Engine, *, huts: int, history_days: int, now: datetime) -> dict[str, int]:
    """Write the district into the (migrated, empty) schema; the row counts written."""
    members = huts * MEMBERS_PER_HUT
    items = huts * ITEMS_PER_HUT
    out_since = huts * (ITEMS_PER_HUT - LENDABLE_PER_HUT)
    closed = history_loans(huts, history_days)
    stamp = now.isoformat()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO huts (id, name, timezone, allowlist_version) "
                "SELECT 'district-' || lpad(h::text, 3, '0'), 'District hut ' || h, "
                "'Asia/Shanghai', 0 FROM generate_series(0, :n - 1) AS h"
            ),
            {"n": huts},
        )
        # Member m of hut h has id h * M + m + 1; its card's UID is card_uid(h, m).
        conn.execute(
            text(
                "INSERT INTO members (id, name, building_unit, status) "
                "SELECT x, 'Resident ' || x, ((x % 30) + 1) || '-' || ((x % 6) + 1), 'active' "
                "FROM generate_series(1, :n) AS x"
            ),
            {"n": members},
        )
        conn.execute(
            text(
                "INSERT INTO cards (uid, member_id, state, bound_at) "
                "SELECT upper(lpad(to_hex(3489660928 + ((x - 1) / :m) * 256 + (x - 1) % :m), "
                "8, '0')), x, 'active', CAST(:now AS timestamptz) - INTERVAL '400 days' "
                "FROM generate_series(1, :n) AS x"
            ),
            {"n": members, "m": MEMBERS_PER_HUT, "now": stamp},
        )
        # Item i of hut h has id h * I + i + 1 and tag D<hhh><iii>; those past the lendable
        # ones are on loan.
        conn.execute(
            text(
                "INSERT INTO items (id, tag, name_zh, name_en, category, hut_id, status) "
                "SELECT x, 'D' || lpad(((x - 1) / :i)::text, 3, '0') "
                "|| lpad(((x - 1) % :i)::text, 3, '0'), '电钻', 'Drill', 'hand_tools', "
                "'district-' || lpad(((x - 1) / :i)::text, 3, '0'), "
                "CASE WHEN (x - 1) % :i < :lendable THEN 'available' ELSE 'on_loan' END "
                "FROM generate_series(1, :n) AS x"
            ),
            {"n": items, "i": ITEMS_PER_HUT, "lendable": LENDABLE_PER_HUT},
        )
        # A resident opens their own hut: at the district's other huts their card is
        # "elsewhere" (此卡不能开这间工具屋), and every hut's list names it so.
        conn.execute(
            text(
                "INSERT INTO member_huts (member_id, hut_id) "
                "SELECT x, 'district-' || lpad(((x - 1) / :m)::text, 3, '0') "
                "FROM generate_series(1, :n) AS x"
            ),
            {"n": members, "m": MEMBERS_PER_HUT},
        )
        for table in ("members", "items"):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                {"n": members if table == "members" else items},
            )
        # Out since before: due from ten days ago to three days ahead, borrowed by one of
        # the hut's members, 3 days before due (hand tools).
        conn.execute(
            text(
                "WITH o AS (SELECT x, (x - 1) / :per AS h, (x - 1) % :per AS k, "
                "CAST(:now AS timestamptz) - INTERVAL '10 days' "
                "+ (x * 13 % 1000) * INTERVAL '1 day' * 13 / 1000 AS due "
                "FROM generate_series(1, :n) AS x) "
                "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at) "
                "SELECT o.h * :i + :lendable + o.k + 1, o.h * :m + (o.k * 7 % :m) + 1, "
                "'district-' || lpad(o.h::text, 3, '0'), o.due - INTERVAL '3 days', o.due "
                "FROM o"
            ),
            {
                "n": out_since,
                "per": ITEMS_PER_HUT - LENDABLE_PER_HUT,
                "i": ITEMS_PER_HUT,
                "m": MEMBERS_PER_HUT,
                "lendable": LENDABLE_PER_HUT,
                "now": stamp,
            },
        )
        # The days before: closed loans of the lendable items, spread over history_days.
        if closed:
            conn.execute(
                text(
                    "WITH c AS (SELECT x, (x - 1) % :huts AS h, "
                    "CAST(:now AS timestamptz) - INTERVAL '1 day' * :days * x / :n AS at "
                    "FROM generate_series(1, :n) AS x) "
                    "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at, "
                    "returned_at, returned_hut_id) "
                    "SELECT c.h * :i + (c.x / :huts) % :lendable + 1, "
                    "c.h * :m + (c.x * 7) % :m + 1, 'district-' || lpad(c.h::text, 3, '0'), "
                    "c.at - INTERVAL '2 days', c.at + INTERVAL '1 day', c.at, "
                    "'district-' || lpad(c.h::text, 3, '0') FROM c"
                ),
                {
                    "n": closed,
                    "huts": huts,
                    "days": history_days,
                    "i": ITEMS_PER_HUT,
                    "m": MEMBERS_PER_HUT,
                    "lendable": LENDABLE_PER_HUT,
                    "now": stamp,
                },
            )
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return {"huts": huts, "members": members, "items": items, "open loans": out_since,
            "closed loans": closed}  # fmt: skip
