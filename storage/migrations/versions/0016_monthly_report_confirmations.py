"""monthly_report_confirmations: the principal confirms the school's 一月一报告 (who and when)

A school's monthly report was generated and delivered, but nothing recorded that the school checked
and submitted it, so the county could not see which schools' reports are missing (一季度一复核).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monthly_report_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_monthly_report_confirmations_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["staff.id"],
            name=op.f("fk_monthly_report_confirmations_confirmed_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_report_confirmations")),
        sa.UniqueConstraint(
            "school_id", "month", name=op.f("uq_monthly_report_confirmations_school_id_month")
        ),
    )
    op.create_index(
        op.f("ix_monthly_report_confirmations_school_id"),
        "monthly_report_confirmations",
        ["school_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_monthly_report_confirmations_school_id"), table_name="monthly_report_confirmations"
    )
    op.drop_table("monthly_report_confirmations")
