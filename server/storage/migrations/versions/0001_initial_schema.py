"""initial schema: huts, items, members, cards, loans, events, dead letters

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types: a migration must not change when the models do.
UTC_TIME = sa.DateTime(timezone=True)
ITEM_STATUS = sa.Enum(
    "available",
    "on_loan",
    "maintenance",
    "retired",
    "lost",
    name="status",
    native_enum=False,
    create_constraint=True,
    length=16,
)
MEMBER_STATUS = sa.Enum(
    "active", "suspended", name="status", native_enum=False, create_constraint=True, length=16
)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "huts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("allowlist_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_huts")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("building_unit", sa.String(32), nullable=False),
        sa.Column("status", MEMBER_STATUS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_table(
        "rejected_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_messages")),
    )
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(20), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_cards_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("uid", name=op.f("uq_cards_uid")),
    )
    op.create_index(op.f("ix_cards_member_id"), "cards", ["member_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("ts", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_events_hut_id_huts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        # Exactly-once: a replayed event id fails here, whatever process sees it.
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index("ix_events_hut_id_seq", "events", ["hut_id", "seq"])
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("status", ITEM_STATUS, nullable=False),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_items_hut_id_huts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("tag", name=op.f("uq_items_tag")),
    )
    op.create_index(op.f("ix_items_hut_id"), "items", ["hut_id"])
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("borrowed_at", UTC_TIME, nullable=False),
        sa.Column("due_at", UTC_TIME, nullable=False),
        sa.Column("returned_at", UTC_TIME, nullable=True),
        sa.Column("returned_hut_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_loans_hut_id_huts")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_loans_item_id_items")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_loans_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["returned_hut_id"], ["huts.id"], name=op.f("fk_loans_returned_hut_id_huts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    op.create_index("ix_loans_item_id_returned_at", "loans", ["item_id", "returned_at"])
    op.create_index(op.f("ix_loans_member_id"), "loans", ["member_id"])


def downgrade() -> None:
    for table in ("loans", "items", "events", "cards", "rejected_messages", "members", "huts"):
        op.drop_table(table)
