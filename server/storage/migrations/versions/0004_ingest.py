"""ingest in order: per-hut watermarks, sequence gaps, enrolment candidates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hut_sequences",
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("applied_seq", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("held_since", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_hut_sequences_hut_id_huts")),
        sa.PrimaryKeyConstraint("hut_id", name=op.f("pk_hut_sequences")),
    )
    op.create_index("ix_hut_sequences_held_since", "hut_sequences", ["held_since"])
    # Huts with a history start from what they already sent: nothing older is awaited.
    op.execute(
        "INSERT INTO hut_sequences (hut_id, applied_seq, held) "
        "SELECT hut_id, MAX(seq), 0 FROM events GROUP BY hut_id"
    )
    op.create_table(
        "sequence_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", UTC_TIME, nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["hut_id"], ["huts.id"], name=op.f("fk_sequence_gaps_hut_id_huts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_gaps")),
    )
    op.create_index("ix_sequence_gaps_hut_id_first_seq", "sequence_gaps", ["hut_id", "first_seq"])
    op.create_table(
        "enrolment_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hut_id", sa.String(64), nullable=False),
        sa.Column("card_uid", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("read_at", UTC_TIME, nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hut_id"], ["huts.id"], name=op.f("fk_enrolment_candidates_hut_id_huts")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_enrolment_candidates_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_candidates")),
        sa.UniqueConstraint("event_id", name=op.f("uq_enrolment_candidates_event_id")),
    )
    op.create_index("ix_enrolment_candidates_hut_id", "enrolment_candidates", ["hut_id"])


def downgrade() -> None:
    op.drop_table("enrolment_candidates")
    op.drop_table("sequence_gaps")
    op.drop_table("hut_sequences")
