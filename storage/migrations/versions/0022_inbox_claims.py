"""inbox rows are claimed one process at a time, per sender in order, and retried later after each failure

Several web workers each run a WeCom processor draining the same inbox: a row is taken with a claim
(claimed_by, claimed_until) that lapses if its process dies; only a sender's oldest row (sender, sent_at)
may be claimed, so their later messages wait; attempts counts failed tries for the backoff. WeCom rows
kept before the upgrade get their sender and send time from the payload.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_inbox_channel_bot_id_sender_sent_at"


def upgrade() -> None:
    op.add_column("inbox", sa.Column("sender", sa.String(length=64), nullable=True))
    op.add_column("inbox", sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("inbox", sa.Column("claimed_by", sa.String(length=64), nullable=True))
    op.add_column("inbox", sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True))
    op.add_column("inbox", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.create_index(_INDEX, "inbox", ["channel", "bot_id", "sender", "sent_at"])
    inbox = sa.table(
        "inbox",
        sa.column("channel", sa.String()),
        sa.column("bot_id", sa.BigInteger()),
        sa.column("update_id", sa.BigInteger()),
        sa.column("payload", sa.JSON()),
        sa.column("sender", sa.String()),
        sa.column("sent_at", UTCDateTime()),
    )
    bind = op.get_bind()
    kept = bind.execute(
        sa.select(inbox.c.bot_id, inbox.c.update_id, inbox.c.payload).where(inbox.c.channel == "wecom")
    ).all()
    for bot_id, update_id, payload in kept:  # as bot.wecom.inbound.keep now stores them
        created = str(payload.get("CreateTime", "0"))
        bind.execute(
            sa.update(inbox)
            .where(inbox.c.channel == "wecom", inbox.c.bot_id == bot_id, inbox.c.update_id == update_id)
            .values(
                sender=str(payload.get("FromUserName", ""))[:64],
                sent_at=datetime.fromtimestamp(int(created) if created.isdigit() else 0, UTC),
            )
        )


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="inbox")
    # Not a batch: SQLite (3.35 on) drops a plain column in place, as PostgreSQL does.
    for column in ("attempts", "claimed_until", "claimed_by", "sent_at", "sender"):
        op.drop_column("inbox", column)
