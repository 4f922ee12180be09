"""addresses and support measures: where a pupil is registered and lives, and the retention measures

- students: registered_residence (户籍地) and current_address (现住址), optional roster columns the
  dropout ledger shows (DOMAIN.md §6).
- codes: scheme support_measure, the 保学措施 a return form records (mentoring, tutoring, counselling and
  aid are the measures DOMAIN.md §3 names for retention; vocational blending for learning difficulty).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUPPORT_MEASURES = [
    ("mentoring", "结对帮扶", "Mentoring (a teacher paired with the pupil)"),
    ("tutoring", "学业辅导", "Tutoring"),
    ("counselling", "心理疏导", "Counselling"),
    ("financial_aid", "资助帮扶", "Financial aid"),
    ("vocational", "职业教育融合", "Vocational blending"),
    ("home_visits", "定期家访", "Regular home visits"),
    ("other", "其他", "Other"),
]


def upgrade() -> None:
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registered_residence", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("current_address", sa.String(length=200), nullable=True))
    codes = sa.table(
        "codes",
        sa.column("scheme", sa.String),
        sa.column("code", sa.String),
        sa.column("label_zh", sa.String),
        sa.column("label_en", sa.String),
        sa.column("meaning", sa.Text),
        sa.column("clears_case", sa.Boolean),
        sa.column("sensitive", sa.Boolean),
        sa.column("active", sa.Boolean),
        sa.column("sort", sa.Integer),
    )
    op.bulk_insert(
        codes,
        [
            {
                "scheme": "support_measure",
                "code": c,
                "label_zh": zh,
                "label_en": en,
                "meaning": None,
                "clears_case": False,
                "sensitive": False,
                "active": True,
                "sort": i,
            }
            for i, (c, zh, en) in enumerate(SUPPORT_MEASURES)
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM codes WHERE scheme = 'support_measure'"))
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.drop_column("current_address")
        batch_op.drop_column("registered_residence")
