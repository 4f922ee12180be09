"""The Telegram inbox: polled updates from the moment they are fetched until they have been handled."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import InboxUpdate
from storage.repositories import _Repository


class UpdateInbox(_Repository):
    async def keep(self, updates: Mapping[int, dict[str, Any]], at: datetime) -> set[int]:
        """Stores a batch (update id -> payload) in one statement; returns the ids that were not there yet."""
        if not updates:
            return set()
        assert self.session.bind is not None  # sessions come from make_sessionmaker(engine)
        insert = postgresql.insert if self.session.bind.dialect.name == "postgresql" else sqlite.insert
        rows = [{"update_id": i, "received_at": at, "payload": p} for i, p in updates.items()]
        stmt = (
            insert(InboxUpdate)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(InboxUpdate.update_id)
        )
        return set((await self.session.scalars(stmt)).all())

    async def forget(self, update_ids: Iterable[int]) -> None:
        ids = list(update_ids)
        if ids:
            await self.session.execute(delete(InboxUpdate).where(InboxUpdate.update_id.in_(ids)))

    async def waiting(self) -> Sequence[dict[str, Any]]:
        """The payloads still kept, oldest first (Telegram numbers updates in the order they arrive)."""
        return (await self.session.scalars(select(InboxUpdate.payload).order_by(InboxUpdate.update_id))).all()

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(InboxUpdate).where(InboxUpdate.received_at < before))
