"""Incoming updates of a chat channel kept in the `inbox` table until handled, keyed by channel, app
(bot id) and update id; an update kept twice is kept once (migration 0021)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import InboxUpdate
from storage.repositories import _Repository


class ChannelInbox(_Repository):
    async def keep(
        self, channel: str, bot_id: int, update_id: int, payload: dict[str, Any], at: datetime
    ) -> bool:
        """Stores one update in one statement; False when it was already there (a redelivery)."""
        assert self.session.bind is not None  # sessions come from make_sessionmaker(engine)
        insert = postgresql.insert if self.session.bind.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(InboxUpdate)
            .values(channel=channel, bot_id=bot_id, update_id=update_id, received_at=at, payload=payload)
            .on_conflict_do_nothing(index_elements=["channel", "bot_id", "update_id"])
            .returning(InboxUpdate.update_id)
        )
        return (await self.session.scalar(stmt)) is not None

    async def waiting(self, channel: str, bot_id: int) -> Sequence[tuple[int, dict[str, Any]]]:
        """(update id, payload) of the updates kept, in the order they arrived."""
        stmt = (
            select(InboxUpdate.update_id, InboxUpdate.payload)
            .where(InboxUpdate.channel == channel, InboxUpdate.bot_id == bot_id)
            .order_by(InboxUpdate.received_at, InboxUpdate.update_id)
        )
        return [(update_id, payload) for update_id, payload in (await self.session.execute(stmt)).all()]

    async def forget(self, channel: str, bot_id: int, update_ids: Iterable[int]) -> None:
        """Deletes handled updates."""
        if ids := list(update_ids):
            await self.session.execute(
                delete(InboxUpdate).where(
                    InboxUpdate.channel == channel,
                    InboxUpdate.bot_id == bot_id,
                    InboxUpdate.update_id.in_(ids),
                )
            )
