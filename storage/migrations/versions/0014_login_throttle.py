"""login_failures: the dashboard's lock-out per (username, client address), shared by every worker

Failed logins are counted per hash of the typed username and the client's address, known usernames
or not, so the answer never tells whether an account exists and an attacker at one address cannot
lock out the real user at another. The delay after repeated failures doubles (domain.people.webauth).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username_key", "address", name=op.f("pk_login_failures")),
    )
    op.create_index(
        op.f("ix_login_failures_last_failed_at"), "login_failures", ["last_failed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_last_failed_at"), table_name="login_failures")
    op.drop_table("login_failures")
