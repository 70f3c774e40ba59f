"""card states (a card reported lost) and the digest of each hut's last allowlist

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the model's values: a migration must not change when the models do.
CARD_STATES = ("active", "lost")


def upgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="active"))
        batch.create_check_constraint(
            op.f("ck_cards_state"), f"state IN ({', '.join(repr(s) for s in CARD_STATES)})"
        )
    # Unknown for every hut: the first check after the upgrade publishes the new format.
    op.add_column("huts", sa.Column("allowlist_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("huts", "allowlist_digest")
    with op.batch_alter_table("cards") as batch:
        batch.drop_constraint(op.f("ck_cards_state"), type_="check")
        batch.drop_column("state")
