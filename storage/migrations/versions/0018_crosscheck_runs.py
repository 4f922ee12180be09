"""crosscheck_runs and crosscheck_children: saved cross-checks (四查三比对) of a county

Each child of a run keeps its bucket and, once a person decided, what was done (a case opened, evidence
added, set aside). The latest run of a county is its ledger of school-age children (适龄儿童台账).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crosscheck_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("cutoff", sa.Date(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_crosscheck_runs_area_id_areas")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_crosscheck_runs_created_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["crosscheck_runs.id"],
            name=op.f("fk_crosscheck_runs_previous_id_crosscheck_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosscheck_runs")),
    )
    with op.batch_alter_table("crosscheck_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crosscheck_runs_area_id"), ["area_id"], unique=False)

    op.create_table(
        "crosscheck_children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=48), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("national_id", sa.String(length=18), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("registered_address", sa.String(length=200), nullable=True),
        sa.Column("current_address", sa.String(length=200), nullable=True),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("school_label", sa.String(length=100), nullable=True),
        sa.Column("student_number", sa.String(length=32), nullable=True),
        sa.Column("record_status", sa.String(length=16), nullable=True),
        sa.Column("student_id", sa.Integer(), nullable=True),
        sa.Column("poverty", sa.Boolean(), nullable=False),
        sa.Column("disability", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_crosscheck_children_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["staff.id"], name=op.f("fk_crosscheck_children_decided_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crosscheck_runs.id"], name=op.f("fk_crosscheck_children_run_id_crosscheck_runs")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_crosscheck_children_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_crosscheck_children_student_id_students")
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["areas.id"], name=op.f("fk_crosscheck_children_village_id_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crosscheck_children")),
        sa.UniqueConstraint("run_id", "key", name=op.f("uq_crosscheck_children_run_id_key")),
    )
    with op.batch_alter_table("crosscheck_children", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crosscheck_children_bucket"), ["bucket"], unique=False)
        batch_op.create_index(batch_op.f("ix_crosscheck_children_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crosscheck_children_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crosscheck_children_student_id"), ["student_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crosscheck_children_village_id"), ["village_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crosscheck_children", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crosscheck_children_village_id"))
        batch_op.drop_index(batch_op.f("ix_crosscheck_children_student_id"))
        batch_op.drop_index(batch_op.f("ix_crosscheck_children_run_id"))
        batch_op.drop_index(batch_op.f("ix_crosscheck_children_case_id"))
        batch_op.drop_index(batch_op.f("ix_crosscheck_children_bucket"))

    op.drop_table("crosscheck_children")
    with op.batch_alter_table("crosscheck_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crosscheck_runs_area_id"))

    op.drop_table("crosscheck_runs")
