"""reminders: messages, exactly-once claims, leased deliveries, attempts, contacts,
hut display messages, and an index of open loans by due time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "reminder_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("template", sa.String(32), nullable=False),
        sa.Column("audience", sa.String(8), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("hut_id", sa.String(64), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_reminder_messages_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["hut_id"], ["huts.id"], name=op.f("fk_reminder_messages_hut_id_huts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_messages")),
    )
    op.create_index("ix_reminder_messages_member_id", "reminder_messages", ["member_id"])
    op.create_table(
        "reminder_claims",
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["reminder_messages.id"],
            name=op.f("fk_reminder_claims_message_id_reminder_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_reminder_claims_loan_id_loans")
        ),
        # Exactly once: a second claim of the same (subject, stage) fails here.
        sa.PrimaryKeyConstraint("subject", "stage", name=op.f("pk_reminder_claims")),
    )
    op.create_index(op.f("ix_reminder_claims_message_id"), "reminder_claims", ["message_id"])
    op.create_table(
        "reminder_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_until", UTC_TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["reminder_messages.id"],
            name=op.f("fk_reminder_deliveries_message_id_reminder_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_deliveries")),
    )
    op.create_index(
        "uq_reminder_deliveries_message_id_channel",
        "reminder_deliveries",
        ["message_id", "channel"],
        unique=True,
    )
    op.create_index(
        "ix_reminder_deliveries_status_next", "reminder_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "reminder_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["reminder_deliveries.id"],
            name=op.f("fk_reminder_attempts_delivery_id_reminder_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_attempts")),
    )
    op.create_index(op.f("ix_reminder_attempts_delivery_id"), "reminder_attempts", ["delivery_id"])
    op.create_table(
        "member_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_contacts_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_contacts")),
    )
    op.create_index(
        "uq_member_contacts_member_id_channel",
        "member_contacts",
        ["member_id", "channel"],
        unique=True,
    )
    op.create_table(
        "display_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(255), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("shown_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_display_messages_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_display_messages")),
    )
    op.create_index(
        "ix_display_messages_member_id_shown_at", "display_messages", ["member_id", "shown_at"]
    )
    op.create_index(
        "ix_loans_open_due_at",
        "loans",
        ["due_at"],
        sqlite_where=sa.text("returned_at IS NULL"),
        postgresql_where=sa.text("returned_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_loans_open_due_at", table_name="loans")
    for table in (
        "display_messages",
        "member_contacts",
        "reminder_attempts",
        "reminder_deliveries",
        "reminder_claims",
        "reminder_messages",
    ):
        op.drop_table(table)
