"""a member's open loans found without reading their whole history

- ``ix_loans_member_id_open``: the loader counts a member's open loans by category at
  every batch with a card in it (and a lone scan counts those of one category). With only
  ``ix_loans_member_id``, that read every loan the member ever had and dropped the
  returned ones: a tap's cost grew with the member's history (in a 25-s ingest bench run,
  with a few thousand loans a member by its end, about 4 % of the worker's time).
  Partial, like ``uq_loans_open_item``: it holds the loans still out, not the history.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_LOAN = "returned_at IS NULL AND lost_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_loans_member_id_open",
        "loans",
        ["member_id"],
        sqlite_where=sa.text(OPEN_LOAN),
        postgresql_where=sa.text(OPEN_LOAN),
    )


def downgrade() -> None:
    op.drop_index("ix_loans_member_id_open", table_name="loans")
