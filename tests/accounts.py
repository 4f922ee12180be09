"""Test helpers for channel accounts: the key of a person's form drafts."""

from __future__ import annotations

from storage.uow import UnitOfWork


async def draft_key(uow: UnitOfWork, account: int | str, channel: str = "telegram") -> int:
    """Drafts are keyed by the person's channel account (migration 0021), not by the chat id."""
    found = await uow.directory.account(channel, str(account))
    assert found is not None, f"{channel} account {account} is not bound"
    return found.id
