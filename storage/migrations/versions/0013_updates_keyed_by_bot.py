"""processed_updates and telegram_inbox keyed by bot: two bots on one database no longer drop each other's
updates (Telegram numbers updates per bot, so update_id alone is not unique)

- processed_updates: primary key (channel, bot_id, update_id); channel is "telegram" for now.
- telegram_inbox: primary key (bot_id, update_id) (the inbox is Telegram's polling only).

A migration cannot know which bot wrote the existing rows (the token is configuration, not data), so they
get bot_id 0 (storage.models.BEFORE_BOT_KEY): the bot that served this database then. Every bot reads
rows of bot 0 as its own — a redelivery right after the upgrade is still recognised, and an update left in
the inbox is still replayed — until they are pruned (a few days: bot.inbox.KEEP_APPLIED).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="telegram")
        )
        batch.add_column(
            sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False, server_default="0")
        )
        batch.drop_constraint("pk_processed_updates", type_="primary")
        batch.create_primary_key("pk_processed_updates", ["channel", "bot_id", "update_id"])
    with op.batch_alter_table("processed_updates") as batch:  # new rows always name their bot
        batch.alter_column("channel", server_default=None)
        batch.alter_column("bot_id", server_default=None)
    with op.batch_alter_table("telegram_inbox") as batch:
        batch.add_column(
            sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False, server_default="0")
        )
        batch.drop_constraint("pk_telegram_inbox", type_="primary")
        batch.create_primary_key("pk_telegram_inbox", ["bot_id", "update_id"])
    with op.batch_alter_table("telegram_inbox") as batch:
        batch.alter_column("bot_id", server_default=None)


def downgrade() -> None:
    # Back to one bot per database: rows of other bots would collide on update_id, so only one is kept.
    for table, key in (("telegram_inbox", ("bot_id",)), ("processed_updates", ("channel", "bot_id"))):
        op.execute(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} other WHERE other.update_id = "
            f"{table}.update_id AND other.bot_id < {table}.bot_id)"
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            for column in key:
                batch.drop_column(column)
            batch.create_primary_key(f"pk_{table}", ["update_id"])
