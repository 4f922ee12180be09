"""conversation_drafts.submitted_at and .receipt: a submitted form leaves a short receipt

A form's draft was deleted on submit, so a later tap on its buttons (Submit again after a lost
confirmation) could only say "ended". Now the row stays, emptied of its answers, with what was saved
(the confirmation text and case number) and whether the confirmation reached the chat, for a few days.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation_drafts") as batch:
        batch.add_column(sa.Column("submitted_at", storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("receipt", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM conversation_drafts WHERE submitted_at IS NOT NULL")
    with op.batch_alter_table("conversation_drafts") as batch:
        batch.drop_column("receipt")
        batch.drop_column("submitted_at")
