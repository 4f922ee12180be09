"""The inbox: incoming updates of any channel from the moment they arrive until they have been handled."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from storage.db import once_more_if_cut
from storage.models import BEFORE_BOT_KEY, InboxUpdate
from storage.repositories import _Repository


def _of(channel: str, bot_id: int) -> ColumnElement[bool]:
    """The bot's rows, and those kept before the inbox was keyed by bot (migration 0013)."""
    return and_(InboxUpdate.channel == channel, InboxUpdate.bot_id.in_((bot_id, BEFORE_BOT_KEY)))


# keep and forget run for every update: Core statements on the table, built once (the entity's would take
# the ORM's bulk paths, which cost more than the statements themselves).
_INBOX = cast(Table, InboxUpdate.__table__)


@functools.cache
def _keep_statement(dialect: str) -> Any:
    """UpdateInbox.keep's INSERT; a batch's rows are its parameters (not one statement per batch size)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(_INBOX)
        .on_conflict_do_nothing(index_elements=["channel", "bot_id", "update_id"])
        .returning(_INBOX.c.update_id)
    )


_FORGET = delete(_INBOX).where(
    _INBOX.c.channel == bindparam("channel"),
    _INBOX.c.bot_id.in_(bindparam("bots", expanding=True)),
    _INBOX.c.update_id.in_(bindparam("ids", expanding=True)),
)


def _rows(updates: Mapping[int, dict[str, Any]], at: datetime, **columns: object) -> list[dict[str, Any]]:
    """The batch's rows; `columns` (channel, bot_id, sender, sent_at) are the same in every row."""
    return [{"update_id": i, "received_at": at, "payload": p} | columns for i, p in updates.items()]


async def keep_alone(
    engine: AsyncEngine, updates: Mapping[int, dict[str, Any]], at: datetime, *, channel: str, bot_id: int
) -> set[int]:
    """UpdateInbox.keep as a statement of its own on an autocommit engine (storage.db's
    make_autocommit_engine): one statement is atomic by itself, and it costs one round trip. Only once no
    row from before migration 0013 is left (UpdateInbox.has_legacy)."""
    if not updates:
        return set()
    rows = _rows(updates, at, channel=channel, bot_id=bot_id, sender=None, sent_at=None)
    stmt = _keep_statement(engine.dialect.name)

    async def insert() -> set[int]:
        async with engine.connect() as conn:
            return set((await conn.execute(stmt, rows)).scalars().all())

    return await once_more_if_cut(insert)


@dataclass(frozen=True)
class Claimed:
    """A row this process now holds: its update id, payload and how many tries failed before."""

    update_id: int
    payload: dict[str, Any]
    attempts: int


class UpdateInbox(_Repository):
    """One bot's updates on one channel (update ids are numbered per bot)."""

    async def keep(
        self,
        updates: Mapping[int, dict[str, Any]],
        at: datetime,
        *,
        channel: str,
        bot_id: int,
        sender: str | None = None,
        sent_at: datetime | None = None,
        legacy: bool = True,
    ) -> set[int]:
        """Stores a batch (update id -> payload) in one statement; returns the ids that were not there yet.
        `sender` and `sent_at` (of every row of the batch) make the rows claimable (see `claim`). `legacy`
        False: the caller knows no row from before migration 0013 is left (`has_legacy`), so none is looked for."""
        if not updates:
            return set()
        assert self.session.bind is not None  # sessions come from make_sessionmaker(engine)
        rows = _rows(updates, at, channel=channel, bot_id=bot_id, sender=sender, sent_at=sent_at)
        stmt = _keep_statement(self.session.bind.dialect.name)
        new = set((await self.session.scalars(stmt, rows)).all())
        if (
            legacy and new and (before := await self._before(channel, new))
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

    async def has_legacy(self, *, channel: str) -> bool:
        """Whether any row kept before the inbox was keyed by bot (migration 0013) is left on the channel."""
        stmt = select(InboxUpdate.update_id).where(
            InboxUpdate.channel == channel, InboxUpdate.bot_id == BEFORE_BOT_KEY
        )
        return (await self.session.scalar(stmt.limit(1))) is not None

    async def forget(self, update_ids: Iterable[int], *, channel: str, bot_id: int) -> None:
        ids = list(update_ids)
        if ids:
            # the bot's rows, and those kept before the inbox was keyed by bot (migration 0013)
            bots = [bot_id, BEFORE_BOT_KEY]
            await self.session.execute(_FORGET, {"channel": channel, "bots": bots, "ids": ids})

    async def waiting(self, *, channel: str, bot_id: int) -> Sequence[dict[str, Any]]:
        """The payloads still kept, in update id order (the order they arrived in)."""
        stmt = select(InboxUpdate.payload).where(_of(channel, bot_id)).order_by(InboxUpdate.update_id)
        return (await self.session.scalars(stmt)).all()

    async def claim(
        self, *, channel: str, bot_id: int, holder: str, now: datetime, until: datetime, limit: int
    ) -> list[Claimed]:
        """Claims for `holder` until `until` the oldest row of up to `limit` senders, where that row's
        claim is free or lapsed; a sender's later rows wait until it is forgotten. One UPDATE: on
        PostgreSQL a concurrent claim of the same row waits for this one's row lock, then re-checks the
        claim on the committed row and leaves it; SQLite has one writer at a time. The caller commits."""
        head, earlier = aliased(InboxUpdate), aliased(InboxUpdate)
        before = exists().where(
            earlier.channel == head.channel,
            earlier.bot_id == head.bot_id,
            earlier.sender == head.sender,
            or_(
                earlier.sent_at < head.sent_at,
                and_(earlier.sent_at == head.sent_at, earlier.update_id < head.update_id),
            ),
        )
        heads = (
            select(head.update_id)
            .where(
                head.channel == channel,
                head.bot_id == bot_id,
                head.sender.is_not(None),
                or_(head.claimed_until.is_(None), head.claimed_until < now),
                ~before,
            )
            .order_by(head.sent_at, head.update_id)
            .limit(limit)
        )
        stmt = (
            update(InboxUpdate)
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.bot_id == bot_id,
                InboxUpdate.update_id.in_(heads),
                or_(InboxUpdate.claimed_until.is_(None), InboxUpdate.claimed_until < now),
            )
            .values(claimed_by=holder, claimed_until=until)
            .returning(InboxUpdate.update_id, InboxUpdate.payload, InboxUpdate.attempts)
            .execution_options(synchronize_session=False)
        )
        return [Claimed(*row) for row in (await self.session.execute(stmt)).all()]

    async def renew(
        self, update_ids: Iterable[int], *, channel: str, bot_id: int, holder: str, until: datetime
    ) -> int:
        """Extends `holder`'s claims on these rows (a long handling); returns how many it still held."""
        ids = list(update_ids)
        if not ids:
            return 0
        stmt = (
            update(InboxUpdate)
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.bot_id == bot_id,
                InboxUpdate.update_id.in_(ids),
                InboxUpdate.claimed_by == holder,
            )
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return int((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def defer(self, update_id: int, *, channel: str, bot_id: int, until: datetime) -> None:
        """A try failed: counts it and lets nobody claim the row (nor its sender's later ones) before
        `until`."""
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.bot_id == bot_id,
                InboxUpdate.update_id == update_id,
            )
            .values(attempts=InboxUpdate.attempts + 1, claimed_by=None, claimed_until=until)
            .execution_options(synchronize_session=False)
        )

    async def hasten(self, *, channel: str, bot_id: int, sender: str) -> None:
        """Ends the waits of a sender's deferred rows (not claims a process holds): they are tried at once,
        before the message the sender just wrote, which would otherwise wait behind them."""
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.channel == channel,
                InboxUpdate.bot_id == bot_id,
                InboxUpdate.sender == sender,
                InboxUpdate.claimed_by.is_(None),
                InboxUpdate.claimed_until.is_not(None),
            )
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )

    async def release(self, *, channel: str, bot_id: int, holder: str) -> None:
        """Ends every claim `holder` has (a process stopping), so another may take the rows at once."""
        await self.session.execute(
            update(InboxUpdate)
            .where(
                InboxUpdate.channel == channel, InboxUpdate.bot_id == bot_id, InboxUpdate.claimed_by == holder
            )
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )

    async def next_due(self, *, channel: str, bot_id: int, after: datetime) -> datetime | None:
        """The earliest time after `after` at which a row's claim or wait ends (None if none does)."""
        return await self.session.scalar(
            select(func.min(InboxUpdate.claimed_until)).where(
                InboxUpdate.channel == channel,
                InboxUpdate.bot_id == bot_id,
                InboxUpdate.claimed_until > after,
            )
        )

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(InboxUpdate).where(InboxUpdate.received_at < before))
