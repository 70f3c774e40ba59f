"""ledger: categories with loan policy, member flags, item condition/owner/overrides,
renewals and lost loans, reservations, notification requests, door sessions and their
scans, anomalies, stocktakes, consumables with batches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types: a migration must not change when the models do.
UTC_TIME = sa.DateTime(timezone=True)
OLD_ITEM_STATUS = ("available", "on_loan", "maintenance", "retired", "lost")
NEW_ITEM_STATUS = ("available", "on_loan", "reserved", "maintenance", "retired", "lost")
CONDITIONS = ("ok", "needs_repair", "missing_part")
OPEN_LOAN = "returned_at IS NULL AND lost_at IS NULL"

# key, name_zh, name_en, loan days, max renewals, max open loans per member, hold hours
DEFAULT_CATEGORIES = (
    ("power_tools", "电动工具", "Power tools", 3, 1, 2, 24),
    ("hand_tools", "手动工具", "Hand tools", 3, 2, 3, 24),
    ("ladders", "梯子", "Ladders", 1, 0, 1, 4),
    ("first_aid", "急救用品", "First aid", 7, 1, 2, 24),
    ("fitness", "健身器材", "Fitness", 7, 2, 2, 24),
    ("household", "家居用品", "Household", 3, 1, 3, 24),
)
# Categories found in existing items but unknown here get the catch-all policy.
FALLBACK_POLICY = (3, 1, 2, 24)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column("huts", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("members", sa.Column("phone", sa.String(32), nullable=True))

    categories = op.create_table(
        "categories",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("loan_days", sa.Integer(), nullable=False),
        sa.Column("max_renewals", sa.Integer(), nullable=False),
        sa.Column("max_per_member", sa.Integer(), nullable=False),
        sa.Column("hold_hours", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_categories")),
    )
    rows = [
        dict(zip(("key", "name_zh", "name_en", "loan_days", "max_renewals",
                  "max_per_member", "hold_hours"), row, strict=True))
        for row in DEFAULT_CATEGORIES
    ]  # fmt: skip
    known = {row["key"] for row in rows}
    used = op.get_bind().execute(sa.text("SELECT DISTINCT category FROM items")).scalars()
    for key in sorted(set(used) - known):
        days, renewals, per_member, hold = FALLBACK_POLICY
        rows.append(
            {"key": key, "name_zh": key, "name_en": key, "loan_days": days,
             "max_renewals": renewals, "max_per_member": per_member, "hold_hours": hold}
        )  # fmt: skip
    op.bulk_insert(categories, rows)

    flag_rules = op.create_table(
        "member_flag_rules",
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("extra_loan_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("flag", name=op.f("pk_member_flag_rules")),
    )
    op.bulk_insert(flag_rules, [{"flag": "senior", "extra_loan_days": 2}])
    op.create_table(
        "member_flags",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_flags_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "flag", name=op.f("pk_member_flags")),
    )

    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("owner", sa.Text(), nullable=True))
        batch.add_column(sa.Column("condition", sa.String(16), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("loan_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_renewals", sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f("ck_items_condition"), _in("condition", CONDITIONS))
        batch.drop_constraint(op.f("ck_items_status"), type_="check")
        batch.create_check_constraint(op.f("ck_items_status"), _in("status", NEW_ITEM_STATUS))
        batch.create_foreign_key(
            op.f("fk_items_category_categories"), "categories", ["category"], ["key"]
        )
        batch.create_index(op.f("ix_items_category"), ["category"])

    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("renewals", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lost_at", UTC_TIME, nullable=True))
        batch.add_column(sa.Column("return_condition", sa.String(16), nullable=True))
    # An item is on at most one open loan, whatever process writes.
    op.create_index(
        "uq_loans_open_item",
        "loans",
        ["item_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_LOAN),
        postgresql_where=sa.text(OPEN_LOAN),
    )

    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("hold_until", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_reservations_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_reservations_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index("ix_reservations_item_id_state", "reservations", ["item_id", "state"])
    op.create_index(op.f("ix_reservations_member_id"), "reservations", ["member_id"])

    op.create_table(
        "notification_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("hut_id", sa.String(64), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_notification_requests_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_notification_requests_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["hut_id"], ["huts.id"], name=op.f("fk_notification_requests_hut_id_huts")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_notification_requests_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_requests")),
    )
    op.create_index(op.f("ix_notification_requests_sent_at"), "notification_requests", ["sent_at"])

    op.create_table(
        "door_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("card_uid", sa.String(20), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("door_opened_at", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(16), nullable=True),
        sa.Column("pending_condition", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_door_sessions_hut_id_huts")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_door_sessions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_sessions")),
        sa.UniqueConstraint("hut_id", "key", name="uq_door_sessions_hut_id_key"),
    )
    op.create_index(op.f("ix_door_sessions_flag"), "door_sessions", ["flag"])

    op.create_table(
        "session_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("door_session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["door_session_id"],
            ["door_sessions.id"],
            name=op.f("fk_session_scans_door_session_id_door_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_session_scans_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_scans")),
    )
    op.create_index(op.f("ix_session_scans_door_session_id"), "session_scans", ["door_session_id"])

    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("door_session_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("resolved_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_anomalies_hut_id_huts")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_anomalies_item_id_items")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_anomalies_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["door_session_id"],
            ["door_sessions.id"],
            name=op.f("fk_anomalies_door_session_id_door_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
    )
    op.create_index(op.f("ix_anomalies_resolved_at"), "anomalies", ["resolved_at"])

    op.create_table(
        "stocktakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("door_session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_stocktakes_hut_id_huts")),
        sa.ForeignKeyConstraint(
            ["door_session_id"],
            ["door_sessions.id"],
            name=op.f("fk_stocktakes_door_session_id_door_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_stocktakes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktakes")),
        sa.UniqueConstraint("door_session_id", name=op.f("uq_stocktakes_door_session_id")),
    )
    op.create_table(
        "stocktake_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["stocktakes.id"],
            name=op.f("fk_stocktake_lines_stocktake_id_stocktakes"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_stocktake_lines_item_id_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_lines")),
    )
    op.create_index(op.f("ix_stocktake_lines_stocktake_id"), "stocktake_lines", ["stocktake_id"])

    op.create_table(
        "consumables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category"], ["categories.key"], name=op.f("fk_consumables_category_categories")
        ),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_consumables_hut_id_huts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumables")),
        sa.UniqueConstraint("tag", name=op.f("uq_consumables_tag")),
    )
    op.create_index(op.f("ix_consumables_hut_id"), "consumables", ["hut_id"])
    op.create_table(
        "consumable_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consumable_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumable_id"],
            ["consumables.id"],
            name=op.f("fk_consumable_batches_consumable_id_consumables"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumable_batches")),
    )
    op.create_index(
        op.f("ix_consumable_batches_consumable_id"), "consumable_batches", ["consumable_id"]
    )


def downgrade() -> None:
    for table in (
        "consumable_batches",
        "consumables",
        "stocktake_lines",
        "stocktakes",
        "anomalies",
        "session_scans",
        "door_sessions",
        "notification_requests",
        "reservations",
        "member_flags",
        "member_flag_rules",
    ):
        op.drop_table(table)
    op.drop_index("uq_loans_open_item", table_name="loans")
    with op.batch_alter_table("loans") as batch:
        for column in ("return_condition", "lost_at", "renewals"):
            batch.drop_column(column)
    # Items held or reserved have no place in the old schema: back on the shelf.
    op.execute("UPDATE items SET status = 'available' WHERE status = 'reserved'")
    with op.batch_alter_table("items") as batch:
        batch.drop_index(op.f("ix_items_category"))
        batch.drop_constraint(op.f("fk_items_category_categories"), type_="foreignkey")
        batch.drop_constraint(op.f("ck_items_status"), type_="check")
        batch.create_check_constraint(op.f("ck_items_status"), _in("status", OLD_ITEM_STATUS))
        batch.drop_constraint(op.f("ck_items_condition"), type_="check")
        for column in ("max_renewals", "loan_days", "condition", "owner"):
            batch.drop_column(column)
    op.drop_table("categories")
    op.drop_column("members", "phone")
    op.drop_column("huts", "address")
