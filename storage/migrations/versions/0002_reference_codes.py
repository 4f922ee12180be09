"""reference codes: official classification codes and key-group flags

The lists are data (editable afterwards in the `codes` table). Sources, as in ../shared/DOMAIN.md:
- verification_2019: national suspected out-of-school verification, 002_06e68f63b964950d.txt.
  J and K are unknown in every source consulted, so they are not created.
- record_system: student-record "dropout or whereabouts unknown" list, 002_06e68f63b964950d.txt.
  A1, A5–A7, B1, B3+ are unknown and not created.
- key_group: priority-monitoring groups of DOMAIN.md §7.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# (scheme, code, label_zh, label_en, clears_case, sensitive, meaning)
CODES = [
    (
        "verification_2019",
        "A",
        "户籍原因",
        "Registration issue",
        True,
        False,
        "Death not deregistered, empty/duplicate registration, wrong ID or name, no such person",
    ),
    ("verification_2019", "B", "在校有学籍", "In school, registered", True, False, "Actually enrolled"),
    (
        "verification_2019",
        "C",
        "省内就读无学籍",
        "In school in-province, unregistered",
        True,
        False,
        "School must register the child",
    ),
    (
        "verification_2019",
        "D",
        "省外就读无学籍",
        "In school out-of-province, unregistered",
        True,
        False,
        "Verify with the other locality",
    ),
    ("verification_2019", "E", "延缓入学", "Deferred enrolment", True, False, "Track the deferral end date"),
    ("verification_2019", "F", "超龄离校", "Over age, left", True, False, None),
    (
        "verification_2019",
        "G",
        "失踪失联",
        "Missing / lost contact",
        False,
        True,
        "Counted as cleared in the source report, but kept open under police follow-up",
    ),
    ("verification_2019", "H", "出国在外", "Abroad", True, False, "Keep contact with the guardian"),
    (
        "verification_2019",
        "I",
        "因病因残",
        "Illness / disability",
        False,
        True,
        "Stays suspected; home teaching etc.",
    ),
    (
        "verification_2019",
        "L",
        "在家上学",
        "Home schooling",
        False,
        False,
        "Stays suspected; guardian ordered to comply",
    ),
    ("record_system", "A2", "厌学辍学", "Dropout: school aversion", False, False, None),
    ("record_system", "A3", "因病因残", "Dropout: illness or disability", False, True, None),
    ("record_system", "A4", "在家上学", "Dropout: home schooling", False, False, None),
    (
        "record_system",
        "A8",
        "其他原因",
        "Other reason",
        False,
        False,
        "In the source this covered abroad, deceased and over-age leavers",
    ),
    ("record_system", "B2", "在校有学籍", "Actually in school, registered", True, False, "Not a dropout"),
]

KEY_GROUPS = [
    ("left_behind", "留守儿童", "Left-behind child", False),
    ("migrant_child", "随迁子女", "Migrant child", False),
    ("family_moved_registration_not", "举家搬迁户籍未迁出", "Family moved, registration left behind", False),
    ("orphan", "孤儿", "Orphan", True),
    ("de_facto_unsupported", "事实无人抚养儿童", "De facto unsupported child", True),
    ("child_in_difficulty", "困境儿童", "Child in difficulty", True),
    ("disabled_child", "残疾儿童", "Disabled child", True),
    ("disabled_parent", "家长为残疾人", "Parent with disability", True),
    ("low_income", "家庭经济困难/脱贫户/监测户", "Low-income or monitored household", True),
    ("single_parent", "单亲家庭", "Single-parent family", True),
    ("raised_by_other_guardian", "由其他监护人抚养", "Raised by another guardian", True),
    ("parent_imprisoned", "服刑人员未成年子女", "Parent imprisoned", True),
    ("juvenile_offender", "涉案未成年人", "Juvenile offender", True),
    ("no_hukou_or_id", "无户籍/无身份证号", "No household registration or ID", True),
    ("learning_difficulty", "学困生/厌学", "Learning difficulty / school aversion", False),
    ("psych_or_behaviour", "心理或行为问题", "Psychological or behavioural concern", True),
    ("working_away", "外出打工", "Working away", False),
    ("early_marriage", "早婚早育", "Early marriage", True),
    ("religion_related", "信教", "Religion-related", True),
]


def _codes_table() -> sa.TableClause:
    return sa.table(
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


def upgrade() -> None:
    rows = [
        {
            "scheme": s,
            "code": c,
            "label_zh": zh,
            "label_en": en,
            "clears_case": clears,
            "sensitive": sens,
            "meaning": m,
            "active": True,
            "sort": i,
        }
        for i, (s, c, zh, en, clears, sens, m) in enumerate(CODES)
    ] + [
        {
            "scheme": "key_group",
            "code": c,
            "label_zh": zh,
            "label_en": en,
            "clears_case": False,
            "sensitive": sens,
            "meaning": None,
            "active": True,
            "sort": i,
        }
        for i, (c, zh, en, sens) in enumerate(KEY_GROUPS)
    ]
    op.bulk_insert(_codes_table(), rows)


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM codes WHERE scheme IN ('verification_2019', 'record_system', 'key_group')")
    )
