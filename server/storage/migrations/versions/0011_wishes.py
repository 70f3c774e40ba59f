"""the community's side: partner organisations (城市治理合伙人), micro-wishes (微心愿)
through propose, deliberate, handle, evaluate, with their supporters and ratings; an item
may name the partner that donated it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "wishes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column(
            "channel",
            _enum("channel", "phone", "paper", "wechat", "hotline", "visit", "meeting"),
            nullable=False,
        ),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", UTC_TIME, nullable=False),
        sa.Column(
            "status",
            _enum("status", "proposed", "deliberated", "handled", "evaluated"),
            nullable=False,
        ),
        sa.Column("meeting_on", sa.Date(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("deliberated_at", UTC_TIME, nullable=True),
        sa.Column(
            "outcome", _enum("outcome", "bought", "donated", "lent", "declined"), nullable=True
        ),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", UTC_TIME, nullable=True),
        sa.Column("evaluated_at", UTC_TIME, nullable=True),
        _fk("wishes", "hut_id", "huts"),
        _fk("wishes", "item_id", "items"),
        _fk("wishes", "partner_id", "partners"),
        _fk("wishes", "proposed_by_id", "members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wishes")),
    )
    op.create_index("ix_wishes_status_proposed_at", "wishes", ["status", "proposed_at"])
    op.create_table(
        "wish_supports",
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        _fk("wish_supports", "member_id", "members"),
        _fk("wish_supports", "wish_id", "wishes"),
        sa.PrimaryKeyConstraint("wish_id", "member_id", name=op.f("pk_wish_supports")),
    )
    op.create_table(
        "wish_ratings",
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_wish_ratings_score_range")),
        _fk("wish_ratings", "member_id", "members"),
        _fk("wish_ratings", "wish_id", "wishes"),
        sa.PrimaryKeyConstraint("wish_id", "member_id", name=op.f("pk_wish_ratings")),
    )
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("partner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_items_partner_id_partners"), "partners", ["partner_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint(op.f("fk_items_partner_id_partners"), type_="foreignkey")
        batch.drop_column("partner_id")
    op.drop_table("wish_ratings")
    op.drop_table("wish_supports")
    op.drop_index("ix_wishes_status_proposed_at", table_name="wishes")
    op.drop_table("wishes")
    op.drop_table("partners")
