"""a person's language is stored on staff, for every channel

- staff.language becomes the person's own choice: the /language choice kept on the Telegram binding
  moves onto it (the roster never set it), and telegram_bindings.language goes.
- staff.reported_language: the language the person's chat client last reported, so reminders and
  reports follow their phone when they never chose one.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Stored choices were catalog languages (zh_CN, en); anything else was never offered by the menu.
_CHOICE = (
    "SELECT b.language FROM telegram_bindings b WHERE b.staff_id = staff.id AND b.language IN ('zh_CN', 'en')"
)


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("reported_language", sa.String(length=8), nullable=True))
    op.execute(f"UPDATE staff SET language = ({_CHOICE}) WHERE EXISTS ({_CHOICE})")
    with op.batch_alter_table("telegram_bindings") as batch:
        batch.drop_column("language")


def downgrade() -> None:
    with op.batch_alter_table("telegram_bindings") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    op.execute(
        "UPDATE telegram_bindings SET language = "
        "(SELECT s.language FROM staff s WHERE s.id = telegram_bindings.staff_id)"
    )
    # Not a batch: on SQLite it would copy and drop "staff", which the foreign keys of every table naming
    # a person refuse once there are rows; SQLite (3.35 on) drops a plain column in place.
    op.drop_column("staff", "reported_language")
