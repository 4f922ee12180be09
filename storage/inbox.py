"""The inbox: incoming updates of any channel from the moment they arrive until they have been handled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import BEFORE_BOT_KEY, InboxUpdate
from storage.repositories import _Repository


def _of(channel: str, bot_id: int) -> ColumnElement[bool]:
    """The bot's rows, and those kept before the inbox was keyed by bot (migration 0013)."""
    return and_(InboxUpdate.channel == channel, InboxUpdate.bot_id.in_((bot_id, BEFORE_BOT_KEY)))


class UpdateInbox(_Repository):
    """One bot's updates on one channel (update ids are numbered per bot)."""

    async def keep(
        self, updates: Mapping[int, dict[str, Any]], at: datetime, *, channel: str, bot_id: int
    ) -> set[int]:
        """Stores a batch (update id -> payload) in one statement; returns the ids that were not there yet."""
        if not updates:
            return set()
        assert self.session.bind is not None  # sessions come from make_sessionmaker(engine)
        insert = postgresql.insert if self.session.bind.dialect.name == "postgresql" else sqlite.insert
        rows = [
            {"channel": channel, "bot_id": bot_id, "update_id": i, "received_at": at, "payload": p}
            for i, p in updates.items()
        ]
        stmt = (
            insert(InboxUpdate)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["channel", "bot_id", "update_id"])
            .returning(InboxUpdate.update_id)
        )
        new = set((await self.session.scalars(stmt)).all())
        if new and (
            before := await self._before(channel, new)
        ):  # still kept from before 0013: not new after all
            await self.session.execute(
                delete(InboxUpdate).where(
                    InboxUpdate.channel == channel,
                    InboxUpdate.bot_id == bot_id,
                    InboxUpdate.update_id.in_(before),
                )
            )
            new -= before
        return new

    async def _before(self, channel: str, update_ids: set[int]) -> set[int]:
        stmt = select(InboxUpdate.update_id).where(
            InboxUpdate.channel == channel,
            InboxUpdate.bot_id == BEFORE_BOT_KEY,
            InboxUpdate.update_id.in_(update_ids),
        )
        return set((await self.session.scalars(stmt)).all())

    async def forget(self, update_ids: Iterable[int], *, channel: str, bot_id: int) -> None:
        ids = list(update_ids)
        if ids:
            await self.session.execute(
                delete(InboxUpdate).where(_of(channel, bot_id), InboxUpdate.update_id.in_(ids))
            )

    async def waiting(self, *, channel: str, bot_id: int) -> Sequence[dict[str, Any]]:
        """The payloads still kept, in update id order (the order they arrived in)."""
        stmt = select(InboxUpdate.payload).where(_of(channel, bot_id)).order_by(InboxUpdate.update_id)
        return (await self.session.scalars(stmt)).all()

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(InboxUpdate).where(InboxUpdate.received_at < before))
