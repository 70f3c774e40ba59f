"""live operation of the huts: each hut's last reported state, alarms raised for staff,
commands staff send to a hut and their outcome, and review columns (acknowledged,
resolved, by whom, with a note) on alarms, anomalies, sequence gaps and dead letters

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)
REVIEWED_NEW = ("alarms",)
REVIEWED_EXISTING = ("anomalies", "sequence_gaps", "rejected_messages")


def _review_columns(table: str, *, with_resolved_at: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("acknowledged_at", UTC_TIME, nullable=True),
        sa.Column(
            "acknowledged_by_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name=f"fk_{table}_acknowledged_by_id_staff_users"),
            nullable=True,
        ),
        sa.Column("acknowledge_note", sa.Text(), nullable=True),
        sa.Column(
            "resolved_by_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name=f"fk_{table}_resolved_by_id_staff_users"),
            nullable=True,
        ),
        sa.Column("resolve_note", sa.Text(), nullable=True),
    ]
    if with_resolved_at:
        columns.append(sa.Column("resolved_at", UTC_TIME, nullable=True))
    return columns


def upgrade() -> None:
    op.create_table(
        "hut_states",
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("since", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("status_at", UTC_TIME, nullable=True),
        sa.Column("firmware", sa.String(32), nullable=True),
        sa.Column("door", sa.String(8), nullable=True),
        sa.Column("lock", sa.String(8), nullable=True),
        sa.Column("controller", sa.String(8), nullable=True),
        sa.Column("allowlist_version", sa.BigInteger(), nullable=True),
        sa.Column("outbox", sa.Integer(), nullable=True),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=True),
        sa.Column("uptime_s", sa.BigInteger(), nullable=True),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_hut_states_hut_id_huts")),
        sa.PrimaryKeyConstraint("hut_id", name=op.f("pk_hut_states")),
    )
    op.create_index(op.f("ix_hut_states_changed_at"), "hut_states", ["changed_at"])

    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("raised_at", UTC_TIME, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("cleared_at", UTC_TIME, nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("notified_at", UTC_TIME, nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("notify_due_at", UTC_TIME, nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        *_review_columns("alarms", with_resolved_at=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_alarms_hut_id_huts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index(op.f("ix_alarms_notify_due_at"), "alarms", ["notify_due_at"])
    op.create_index(op.f("ix_alarms_updated_at"), "alarms", ["updated_at"])
    op.create_index(op.f("ix_alarms_resolved_at"), "alarms", ["resolved_at"])
    op.create_index("ix_alarms_hut_id_raised_at", "alarms", ["hut_id", "raised_at"])
    op.create_index(
        "uq_alarms_open_hut_kind",
        "alarms",
        ["hut_id", "kind"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )

    op.create_table(
        "remote_commands",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("issued_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("outcome_at", UTC_TIME, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hut_id"], ["huts.id"], name=op.f("fk_remote_commands_hut_id_huts")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["staff_users.id"],
            name=op.f("fk_remote_commands_issued_by_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_commands")),
    )
    op.create_index(
        "ix_remote_commands_hut_id_issued_at", "remote_commands", ["hut_id", "issued_at"]
    )

    for table in REVIEWED_EXISTING:
        with op.batch_alter_table(table) as batch:
            for column in _review_columns(table, with_resolved_at=table != "anomalies"):
                batch.add_column(column)
        if table != "anomalies":  # anomalies had resolved_at, and its index, already
            op.create_index(op.f(f"ix_{table}_resolved_at"), table, ["resolved_at"])


def downgrade() -> None:
    for table in REVIEWED_EXISTING:
        if table != "anomalies":
            op.drop_index(op.f(f"ix_{table}_resolved_at"), table_name=table)
        with op.batch_alter_table(table) as batch:
            for name in ("resolve_note", "resolved_by_id", "acknowledge_note"):
                batch.drop_column(name)
            batch.drop_column("acknowledged_by_id")
            batch.drop_column("acknowledged_at")
            if table != "anomalies":
                batch.drop_column("resolved_at")
    op.drop_table("remote_commands")
    op.drop_table("alarms")
    op.drop_table("hut_states")
