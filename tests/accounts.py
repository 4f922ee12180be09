"""Test helpers for channel accounts: the key of a Telegram user's form drafts."""

from __future__ import annotations

from storage.uow import UnitOfWork


async def draft_key(uow: UnitOfWork, telegram_user_id: int) -> int:
    """Drafts are keyed by the person's channel account (migration 0021), not by the chat id."""
    account = await uow.directory.account("telegram", str(telegram_user_id))
    assert account is not None, f"telegram user {telegram_user_id} is not bound"
    return account.id
