"""staff accounts (users, console sessions, API tokens), the audit log, and what the
records need: hut contact and opening hours, item notes and status history, member
language, status reason, leaving and erasure, the huts a member may open, enrolment at
a hut, supply deliveries, and a version on every record staff edit

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types: a migration must not change when the models do.
UTC_TIME = sa.DateTime(timezone=True)
ROLES = ("viewer", "staff", "admin")
OLD_MEMBER_STATUS = ("active", "suspended")
NEW_MEMBER_STATUS = ("active", "suspended", "left")
VERSIONED = ("huts", "categories", "items", "members", "consumables")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(*ROLES, name="role", native_enum=False, create_constraint=True, length=16),
            nullable=False,
        ),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("password_changed_at", UTC_TIME, nullable=True),
        sa.Column("last_sign_in_at", UTC_TIME, nullable=True),
        sa.Column("disabled_at", UTC_TIME, nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    op.create_table(
        "staff_sessions",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_staff_sessions_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("last_used_at", UTC_TIME, nullable=True),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_api_tokens_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_users.id"], name=op.f("fk_audit_log_user_id_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"])
    op.create_table(
        "item_status_changes",
        _id(),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_status_changes_item_id_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_status_changes")),
    )
    op.create_index(op.f("ix_item_status_changes_item_id"), "item_status_changes", ["item_id"])
    op.create_table(
        "member_huts",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_member_huts_hut_id_huts")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_huts_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", "hut_id", name=op.f("pk_member_huts")),
    )
    op.create_table(
        "enrolment_requests",
        _id(),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("card_uid", sa.String(20), nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["hut_id"], ["huts.id"], name=op.f("fk_enrolment_requests_hut_id_huts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_enrolment_requests_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_requests")),
        sa.UniqueConstraint("command_id", name=op.f("uq_enrolment_requests_command_id")),
    )
    op.create_index("ix_enrolment_requests_hut_id_state", "enrolment_requests", ["hut_id", "state"])
    for table in VERSIONED:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("huts") as batch:
        batch.add_column(sa.Column("contact_phone", sa.String(32), nullable=True))
        batch.add_column(sa.Column("opening_hours", sa.JSON(), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("notes", sa.Text(), nullable=True))
    op.add_column("consumables", sa.Column("notes", sa.Text(), nullable=True))
    op.add_column("consumable_batches", sa.Column("received_on", sa.Date(), nullable=True))
    op.add_column("cards", sa.Column("bound_at", UTC_TIME, nullable=True))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("language", sa.String(8), server_default="zh", nullable=False))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("created_at", UTC_TIME, nullable=True))
        batch.add_column(sa.Column("left_at", UTC_TIME, nullable=True))
        batch.add_column(sa.Column("erased_at", UTC_TIME, nullable=True))
        batch.drop_constraint(op.f("ck_members_status"), type_="check")
        batch.create_check_constraint(op.f("ck_members_status"), _in("status", NEW_MEMBER_STATUS))


def downgrade() -> None:
    # Members who left have no place in the old schema: suspended, which opens nothing too.
    op.execute("UPDATE members SET status = 'suspended' WHERE status = 'left'")
    with op.batch_alter_table("members") as batch:
        batch.drop_constraint(op.f("ck_members_status"), type_="check")
        batch.create_check_constraint(op.f("ck_members_status"), _in("status", OLD_MEMBER_STATUS))
        for column in ("erased_at", "left_at", "created_at", "status_reason", "language"):
            batch.drop_column(column)
    op.drop_column("cards", "bound_at")
    op.drop_column("consumable_batches", "received_on")
    op.drop_column("consumables", "notes")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("notes")
        batch.drop_column("status_reason")
    with op.batch_alter_table("huts") as batch:
        batch.drop_column("opening_hours")
        batch.drop_column("contact_phone")
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
    for table in (
        "enrolment_requests",
        "member_huts",
        "item_status_changes",
        "audit_log",
        "api_tokens",
        "staff_sessions",
        "staff_users",
    ):
        op.drop_table(table)
