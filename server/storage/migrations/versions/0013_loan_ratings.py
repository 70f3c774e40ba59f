"""ratings after a return (one per loan: a card at the hut or the phone), and 60+ members
first in a category's waiting lists where its policy says so

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "loan_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "hut", "phone", name="source", native_enum=False, create_constraint=True, length=16
            ),
            nullable=False,
        ),  # fmt: skip
        sa.Column("rated_at", UTC_TIME, nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_loan_ratings_score_range")),
        _fk("loan_ratings", "hut_id", "huts"),
        _fk("loan_ratings", "item_id", "items"),
        _fk("loan_ratings", "loan_id", "loans"),
        _fk("loan_ratings", "member_id", "members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_ratings")),
        sa.UniqueConstraint("loan_id", name=op.f("uq_loan_ratings_loan_id")),
    )
    op.create_index("ix_loan_ratings_hut_id_rated_at", "loan_ratings", ["hut_id", "rated_at"])
    op.create_index("ix_loan_ratings_item_id_rated_at", "loan_ratings", ["item_id", "rated_at"])
    with op.batch_alter_table("categories") as batch:
        batch.add_column(
            sa.Column("senior_first", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("senior_first")
    op.drop_index("ix_loan_ratings_item_id_rated_at", table_name="loan_ratings")
    op.drop_index("ix_loan_ratings_hut_id_rated_at", table_name="loan_ratings")
    op.drop_table("loan_ratings")
