"""out-of-school children (失学): pupils without a school roll and the case kind

- students.school_id, students.class_id become nullable: a school-age child on no school roll is a
  student row with neither, placed by home_village_id (the village of the current address).
- cases.kind: "dropout" (辍学, the default for every existing case) or "out_of_school" (失学, never
  enrolled), counted apart in the monthly and quarterly figures.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("students") as batch:
        batch.alter_column("school_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("class_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), server_default="dropout", nullable=False))


def downgrade() -> None:
    # Children on no school roll cannot be kept without a school: their cases and rows must go first.
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("students") as batch:
        batch.alter_column("class_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("school_id", existing_type=sa.Integer(), nullable=False)
