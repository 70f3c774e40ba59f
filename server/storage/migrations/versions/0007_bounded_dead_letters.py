"""dead letters keep a bounded prefix of their payload, with the whole one's SHA-256 and
size (a 1 MB message was stored whole)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = 4096  # as server.storage.queries.DEAD_LETTER_PREFIX when this revision was written

_letters = sa.table(
    "rejected_messages",
    sa.column("id", sa.Integer()),
    sa.column("payload", sa.LargeBinary()),
    sa.column("payload_sha256", sa.String(64)),
    sa.column("payload_size", sa.BigInteger()),
)


def upgrade() -> None:
    with op.batch_alter_table("rejected_messages") as batch:
        batch.add_column(sa.Column("payload_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("payload_size", sa.BigInteger(), nullable=True))
    # Letters stored whole before: digest and size from the whole, then cut to the prefix.
    connection = op.get_bind()
    rows = connection.execute(sa.select(_letters.c.id, _letters.c.payload)).all()
    for row_id, payload in rows:
        whole = bytes(payload)
        connection.execute(
            _letters.update()
            .where(_letters.c.id == row_id)
            .values(
                payload=whole[:PREFIX],
                payload_sha256=hashlib.sha256(whole).hexdigest(),
                payload_size=len(whole),
            )
        )
    with op.batch_alter_table("rejected_messages") as batch:
        batch.alter_column("payload_sha256", existing_type=sa.String(64), nullable=False)
        batch.alter_column("payload_size", existing_type=sa.BigInteger(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("rejected_messages") as batch:
        batch.drop_column("payload_size")
        batch.drop_column("payload_sha256")
