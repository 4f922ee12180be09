"""next steps and escalations: each case's next dated step, acknowledged escalations, chat-safe flags

- cases: next_step / next_step_due_at (what the case waits for, by when) and auto_step /
  auto_step_due_at (the next move the system makes by itself); filled by the scheduler's first replan.
- escalations: a missed step told to the level above, climbing until someone acknowledges it.
- codes: only the key-group flags the issue names as sensitive (religion, child of a prisoner, minor in
  a criminal case, early marriage) are kept out of chat; 因病因残 (A3) is an ordinary absence reason.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENSITIVE_FLAGS = ("religion_related", "parent_imprisoned", "juvenile_offender", "early_marriage")


def upgrade() -> None:
    when = storage.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_step", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("next_step_due_at", when, nullable=True))
        batch_op.add_column(sa.Column("auto_step", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("auto_step_due_at", when, nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_next_step_due_at"), ["next_step_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_auto_step_due_at"), ["auto_step_due_at"], unique=False)
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("anchor", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=24), nullable=False),
        sa.Column("raised_at", when, nullable=False),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", when, nullable=True),
        sa.Column("resolved_at", when, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_escalations_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["staff.id"], name=op.f("fk_escalations_acknowledged_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("case_id", "step", "anchor", name=op.f("uq_escalations_case_id_step_anchor")),
    )
    op.create_index(op.f("ix_escalations_case_id"), "escalations", ["case_id"], unique=False)
    codes = sa.table(
        "codes",
        sa.column("scheme", sa.String),
        sa.column("code", sa.String),
        sa.column("sensitive", sa.Boolean),
    )
    op.execute(codes.update().where(codes.c.scheme == "key_group").values(sensitive=False))
    op.execute(
        codes.update()
        .where(codes.c.scheme == "key_group", codes.c.code.in_(SENSITIVE_FLAGS))
        .values(sensitive=True)
    )
    op.execute(
        codes.update().where(codes.c.scheme == "record_system", codes.c.code == "A3").values(sensitive=False)
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_escalations_case_id"), table_name="escalations")
    op.drop_table("escalations")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_auto_step_due_at"))
        batch_op.drop_index(batch_op.f("ix_cases_next_step_due_at"))
        batch_op.drop_column("auto_step_due_at")
        batch_op.drop_column("auto_step")
        batch_op.drop_column("next_step_due_at")
        batch_op.drop_column("next_step")
