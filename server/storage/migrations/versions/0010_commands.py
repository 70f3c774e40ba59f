"""the member a remote unlock is for: ``remote_commands.member_id`` (staff open the door
for a resident whose card does not work; the scans of that door session are lent to them)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remote_commands") as batch:
        batch.add_column(
            sa.Column(
                "member_id",
                sa.Integer(),
                sa.ForeignKey("members.id", name="fk_remote_commands_member_id_members"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("remote_commands") as batch:
        batch.drop_column("member_id")
