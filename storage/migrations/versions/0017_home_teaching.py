"""home_teaching_plans and home_teaching_sessions: 送教上门, one plan per child (一人一案)

A child with a severe disability assessed for home teaching gets a plan (teachers, cadence, minutes per
session, content, start and review dates, the assessment's reference); teachers log each session.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_teaching_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("teacher_ids", sa.JSON(), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("sessions_per_period", sa.Integer(), nullable=False),
        sa.Column("minutes_per_session", sa.Integer(), nullable=False),
        sa.Column("content_areas", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("assessment_ref", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_home_teaching_plans_student_id_students")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["staff.id"], name=op.f("fk_home_teaching_plans_updated_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_teaching_plans")),
        sa.UniqueConstraint("student_id", name=op.f("uq_home_teaching_plans_student_id")),
    )
    op.create_table(
        "home_teaching_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("child_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["home_teaching_plans.id"],
            name=op.f("fk_home_teaching_sessions_plan_id_home_teaching_plans"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["staff.id"], name=op.f("fk_home_teaching_sessions_recorded_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_teaching_sessions")),
    )
    op.create_index(
        op.f("ix_home_teaching_sessions_plan_id"), "home_teaching_sessions", ["plan_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_home_teaching_sessions_plan_id"), table_name="home_teaching_sessions")
    op.drop_table("home_teaching_sessions")
    op.drop_table("home_teaching_plans")
