"""API tokens expire

- api_tokens.expires_at: after it, identify_token refuses the token (`notoneless user token list` shows
  it; new tokens get API_TOKEN_TTL_DAYS, 90 by default).

Existing tokens had no end. Each gets created_at + 90 days, or, when that has already passed, the
upgrade time + 90 days. Expiring old tokens at the upgrade would cut off a county's running reporting
integration with no warning; this way every token has a finite life, none lives longer than a new one
would, and the operator sees the dates in `user token list` and can revoke any of them at once.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fixed here, not read from the settings: a migration must do the same on every machine.
_EXISTING_TOKEN_TTL = timedelta(days=90)

_tokens = sa.table(
    "api_tokens",
    sa.column("id", sa.Integer()),
    sa.column("created_at", storage.types.UTCDateTime(timezone=True)),
    sa.column("expires_at", storage.types.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    now = datetime.now(UTC)
    for token_id, created_at in conn.execute(sa.select(_tokens.c.id, _tokens.c.created_at)).all():
        expires = created_at + _EXISTING_TOKEN_TTL
        if expires <= now:
            expires = now + _EXISTING_TOKEN_TTL
        conn.execute(sa.update(_tokens).where(_tokens.c.id == token_id).values(expires_at=expires))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column(
            "expires_at", existing_type=storage.types.UTCDateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
