"""replies kept with applied updates, and the bot's send budget shared by every process

- processed_updates.reply: what an applied update was answered with, so a redelivery after a kill
  between the commit and the reply shows it again (issue: no reply lost in a retry wait).
- send_budget: one row per bot, the next free sending slot on the database's clock; webhook workers
  and schedulers on one PostgreSQL take their slots from it, so together they keep Telegram's rate.

Revision ID: 0010
Revises: 0009
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
    with op.batch_alter_table("processed_updates") as batch:
        batch.add_column(sa.Column("reply", sa.JSON(), nullable=True))
    op.create_table(
        "send_budget",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_send_budget")),
    )


def downgrade() -> None:
    op.drop_table("send_budget")
    with op.batch_alter_table("processed_updates") as batch:
        batch.drop_column("reply")
