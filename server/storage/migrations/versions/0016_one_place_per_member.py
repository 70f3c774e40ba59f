"""one place per member in an item's waiting list: a unique index on the places still in
the line, so two requests at once (a double tap on a phone) cannot queue a member twice

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "state IN ('waiting', 'held')"


def upgrade() -> None:
    op.create_index(
        "uq_reservations_active_item_member",
        "reservations",
        ["item_id", "member_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_reservations_active_item_member", table_name="reservations")
