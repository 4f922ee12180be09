"""chat channels are data, not table names: Telegram is one channel, WeCom (企业微信) the next

- channel_accounts replaces telegram_bindings: (channel, account, conversation) per person, at most one
  per channel; the Telegram bindings carry over as channel "telegram" (account = user id, conversation =
  chat id, both as text).
- conversation_drafts are keyed by that account (account_id) instead of the Telegram chat id; drafts and
  receipts of a chat with no binding could never be used and are dropped.
- inbox replaces telegram_inbox, keyed by (channel, bot_id, update_id); kept rows are Telegram's.
- invites.used_by_account ("telegram:<user id>") replaces used_by_telegram_id; reminders.sent_ref replaces
  telegram_message_id; attachments.source_file_ref replaces telegram_file_unique_id.
- access_tokens: a channel's API token shared by every process (WeCom's gettoken).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _replace_column(table: str, old: str, new: sa.Column, copy: str) -> None:
    """Adds `new`, fills it from `copy` (SQL over the old column), drops `old`. Not a batch: on SQLite a
    batch copies the table, which the foreign keys naming it refuse; SQLite (3.35 on) drops a plain column
    in place, as PostgreSQL does."""
    op.add_column(table, new)
    op.execute(f"UPDATE {table} SET {new.name} = {copy} WHERE {old} IS NOT NULL")
    op.drop_column(table, old)


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff.id", name="fk_channel_accounts_staff_id_staff"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("conversation", sa.String(length=64), nullable=False),
        sa.Column("bound_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("unreachable_since", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_channel_accounts"),
        sa.UniqueConstraint("channel", "account", name="uq_channel_accounts_channel_account"),
        sa.UniqueConstraint("staff_id", "channel", name="uq_channel_accounts_staff_id_channel"),
    )
    op.create_index("ix_channel_accounts_staff_id", "channel_accounts", ["staff_id"])
    op.execute(
        "INSERT INTO channel_accounts (staff_id, channel, account, conversation, bound_at, unreachable_since) "
        "SELECT staff_id, 'telegram', CAST(telegram_user_id AS VARCHAR(64)), CAST(chat_id AS VARCHAR(64)), "
        "bound_at, unreachable_since FROM telegram_bindings"
    )

    op.execute(
        "DELETE FROM conversation_drafts WHERE NOT EXISTS (SELECT 1 FROM channel_accounts a "
        "WHERE a.channel = 'telegram' AND a.conversation = CAST(conversation_drafts.chat_id AS VARCHAR(64)))"
    )
    op.execute(
        "UPDATE conversation_drafts SET chat_id = (SELECT a.id FROM channel_accounts a "
        "WHERE a.channel = 'telegram' AND a.conversation = CAST(conversation_drafts.chat_id AS VARCHAR(64)))"
    )
    op.execute("ALTER TABLE conversation_drafts RENAME COLUMN chat_id TO account_id")
    op.drop_table("telegram_bindings")

    op.create_table(
        "inbox",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "bot_id", "update_id", name="pk_inbox"),
    )
    op.execute(
        "INSERT INTO inbox (channel, bot_id, update_id, received_at, payload) "
        "SELECT 'telegram', bot_id, update_id, received_at, payload FROM telegram_inbox"
    )
    op.drop_table("telegram_inbox")

    _replace_column(
        "invites",
        "used_by_telegram_id",
        sa.Column("used_by_account", sa.String(length=96), nullable=True),
        "'telegram:' || CAST(used_by_telegram_id AS VARCHAR(32))",
    )
    _replace_column(
        "reminders",
        "telegram_message_id",
        sa.Column("sent_ref", sa.String(length=64), nullable=True),
        "CAST(telegram_message_id AS VARCHAR(64))",
    )
    op.execute("ALTER TABLE attachments RENAME COLUMN telegram_file_unique_id TO source_file_ref")

    op.create_table(
        "access_tokens",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_access_tokens"),
    )


def downgrade() -> None:
    op.drop_table("access_tokens")
    op.execute("ALTER TABLE attachments RENAME COLUMN source_file_ref TO telegram_file_unique_id")
    # Sent message ids are informative only, and another channel's do not fit a Telegram number: not kept.
    op.add_column("reminders", sa.Column("telegram_message_id", sa.BigInteger(), nullable=True))
    op.drop_column("reminders", "sent_ref")
    op.add_column("invites", sa.Column("used_by_telegram_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE invites SET used_by_telegram_id = CAST(SUBSTR(used_by_account, 10) AS BIGINT) "
        "WHERE used_by_account LIKE 'telegram:%'"
    )
    op.drop_column("invites", "used_by_account")

    op.create_table(
        "telegram_inbox",
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "update_id", name="pk_telegram_inbox"),
    )
    op.execute(
        "INSERT INTO telegram_inbox (bot_id, update_id, received_at, payload) "
        "SELECT bot_id, update_id, received_at, payload FROM inbox WHERE channel = 'telegram'"
    )
    op.drop_table("inbox")

    op.create_table(
        "telegram_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("bound_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("unreachable_since", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_telegram_bindings_staff_id_staff"),
        sa.PrimaryKeyConstraint("id", name="pk_telegram_bindings"),
        sa.UniqueConstraint("staff_id", name="uq_telegram_bindings_staff_id"),
        sa.UniqueConstraint("telegram_user_id", name="uq_telegram_bindings_telegram_user_id"),
    )
    op.execute(
        "INSERT INTO telegram_bindings (staff_id, telegram_user_id, chat_id, bound_at, unreachable_since) "
        "SELECT staff_id, CAST(account AS BIGINT), CAST(conversation AS BIGINT), bound_at, unreachable_since "
        "FROM channel_accounts WHERE channel = 'telegram'"
    )
    # Drafts of other channels' conversations cannot be kept under a chat id.
    op.execute(
        "DELETE FROM conversation_drafts WHERE NOT EXISTS (SELECT 1 FROM channel_accounts a "
        "WHERE a.id = conversation_drafts.account_id AND a.channel = 'telegram')"
    )
    op.execute(
        "UPDATE conversation_drafts SET account_id = (SELECT CAST(a.conversation AS BIGINT) "
        "FROM channel_accounts a WHERE a.id = conversation_drafts.account_id)"
    )
    op.execute("ALTER TABLE conversation_drafts RENAME COLUMN account_id TO chat_id")
    op.drop_index("ix_channel_accounts_staff_id", table_name="channel_accounts")
    op.drop_table("channel_accounts")
