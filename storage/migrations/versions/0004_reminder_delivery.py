"""reminder delivery: send_after, channel and the claim index

Revision ID: 0004
Revises: 0003

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_after", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("channel", sa.String(length=8), server_default="direct", nullable=False)
        )
    # Rows written before this revision become sendable at their due time.
    op.execute("UPDATE reminders SET send_after = due_at WHERE send_after IS NULL")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.alter_column(
            "send_after", existing_type=storage.types.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_index("ix_reminders_state_send_after", ["state", "send_after"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_state_send_after")
        batch_op.drop_column("channel")
        batch_op.drop_column("send_after")
