"""reminder claims name their own template: one message lists a member's loans at
different stages, each line worded by its stage

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: claims made before this revision are worded by their message's template.
    op.add_column("reminder_claims", sa.Column("template", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reminder_claims") as batch:
        batch.drop_column("template")
