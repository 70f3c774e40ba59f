"""the monthly send's claim taken before the build, and loans found by hut and start

- ``monthly_report_sends.done_at``: when the claimed send was kept and told. A claim is
  now taken before the report is built (so a second server process does not build it
  too); one never done after its lease (its process died while building) may be taken
  over. Every row before this revision was claimed only once done: ``done_at`` is its
  ``claimed_at``.
- ``ix_loans_hut_id_borrowed_at``: the monthly report's reads of one hut (loans begun in
  the month, by week, category and item; the loans due) were a scan of every loan of the
  district, for every hut: at 500 huts and a year of loans, the send of the 1st kept both
  cores of a district's server busy for many minutes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("monthly_report_sends") as batch:
        batch.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE monthly_report_sends SET done_at = claimed_at")
    op.create_index("ix_loans_hut_id_borrowed_at", "loans", ["hut_id", "borrowed_at"])


def downgrade() -> None:
    op.drop_index("ix_loans_hut_id_borrowed_at", table_name="loans")
    with op.batch_alter_table("monthly_report_sends") as batch:
        batch.drop_column("done_at")
