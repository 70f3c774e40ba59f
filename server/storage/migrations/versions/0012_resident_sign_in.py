"""a resident's phone signed in without a password: one-time sign-in codes (from the hut's
display after a card tap, or sent through the member's reminder channel) and the sessions
they open

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["member_id"], ["members.id"], name=op.f(f"fk_{table}_member_id_members")
    )


def upgrade() -> None:
    op.create_table(
        "resident_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("hut_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        _member_fk("resident_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_codes")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_resident_codes_link_hash")),
    )
    op.create_index("ix_resident_codes_code_hash", "resident_codes", ["code_hash"])
    op.create_index(op.f("ix_resident_codes_member_id"), "resident_codes", ["member_id"])
    op.create_table(
        "resident_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("ended_at", UTC_TIME, nullable=True),
        _member_fk("resident_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_resident_sessions_token_hash")),
    )
    op.create_index(op.f("ix_resident_sessions_member_id"), "resident_sessions", ["member_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_resident_sessions_member_id"), table_name="resident_sessions")
    op.drop_table("resident_sessions")
    op.drop_index(op.f("ix_resident_codes_member_id"), table_name="resident_codes")
    op.drop_index("ix_resident_codes_code_hash", table_name="resident_codes")
    op.drop_table("resident_codes")
