"""the monthly reports kept for download (PDF and CSV bytes) and the claims of each
month's send to the staff channel

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monthly_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("hut_id", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("csv", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hut_id"], ["huts.id"], name=op.f("fk_monthly_reports_hut_id_huts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_reports")),
    )
    op.create_index("ix_monthly_reports_month_hut_id", "monthly_reports", ["month", "hut_id"])
    op.create_index(op.f("ix_monthly_reports_created_at"), "monthly_reports", ["created_at"])
    op.create_table(
        "monthly_report_sends",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", UTC_TIME, nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["reminder_messages.id"],
            name=op.f("fk_monthly_report_sends_message_id_reminder_messages"),
        ),
        sa.PrimaryKeyConstraint("month", "scope", name=op.f("pk_monthly_report_sends")),
    )


def downgrade() -> None:
    op.drop_table("monthly_report_sends")
    op.drop_index(op.f("ix_monthly_reports_created_at"), table_name="monthly_reports")
    op.drop_index("ix_monthly_reports_month_hut_id", table_name="monthly_reports")
    op.drop_table("monthly_reports")
