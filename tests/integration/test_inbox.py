"""The Telegram inbox and the update log: each update kept once, forgotten when handled, old rows pruned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from domain.clock import FixedClock
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWorkFactory

BOT, OTHER_BOT = 100001, 100002


async def test_a_batch_is_kept_once_and_comes_back_oldest_first_until_forgotten(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        assert await uow.inbox.keep(
            {12: {"update_id": 12}, 10: {"update_id": 10}}, clock.now(), channel="telegram", bot_id=BOT
        ) == {10, 12}
        await uow.commit()
    async with uow_factory() as uow:  # fetched again (not confirmed): only the new one is new
        assert await uow.inbox.keep(
            {12: {"update_id": 12}, 13: {"update_id": 13, "x": "消息"}},
            clock.now(),
            channel="telegram",
            bot_id=BOT,
        ) == {13}
        await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting(channel="telegram", bot_id=BOT)) == [
            {"update_id": 10},
            {"update_id": 12},
            {"update_id": 13, "x": "消息"},
        ]
        await uow.inbox.forget({10, 13}, channel="telegram", bot_id=BOT)
        await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting(channel="telegram", bot_id=BOT)) == [{"update_id": 12}]


async def test_prune_drops_only_rows_older_than_the_cut(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    old, recent = clock.now() - timedelta(days=2), clock.now() - timedelta(hours=1)
    async with uow_factory() as uow:
        await uow.inbox.keep({1: {"update_id": 1}}, old, channel="telegram", bot_id=BOT)
        await uow.inbox.keep({2: {"update_id": 2}}, recent, channel="telegram", bot_id=BOT)
        uow.updates.mark(1, old, channel="telegram", bot_id=BOT)
        assert await uow.updates.first(2, recent, channel="telegram", bot_id=BOT)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.inbox.prune(clock.now() - timedelta(days=1))
        await uow.updates.prune(clock.now() - timedelta(days=1))
        await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting(channel="telegram", bot_id=BOT)) == [{"update_id": 2}]
        assert not await uow.updates.seen(1, channel="telegram", bot_id=BOT) and await uow.updates.seen(
            2, channel="telegram", bot_id=BOT
        )
        assert await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1


async def test_two_bots_on_one_database_keep_and_apply_the_same_update_id_each(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    """Telegram numbers updates per bot: update 7 of one bot is not update 7 of the other."""
    async with uow_factory() as uow:
        assert await uow.inbox.keep(
            {7: {"update_id": 7, "bot": 1}}, clock.now(), channel="telegram", bot_id=BOT
        ) == {7}
        assert await uow.inbox.keep(
            {7: {"update_id": 7, "bot": 2}}, clock.now(), channel="telegram", bot_id=OTHER_BOT
        ) == {7}
        assert await uow.updates.first(7, clock.now(), bot_id=BOT, channel="telegram")
        await uow.updates.keep_reply(7, {"text": "one"}, channel="telegram", bot_id=BOT)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.first(7, clock.now(), channel="telegram", bot_id=OTHER_BOT)
        await uow.updates.keep_reply(7, {"text": "two"}, channel="telegram", bot_id=OTHER_BOT)
        await uow.inbox.forget({7}, channel="telegram", bot_id=BOT)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.reply(7, channel="telegram", bot_id=BOT) == {"text": "one"}
        assert await uow.updates.reply(7, channel="telegram", bot_id=OTHER_BOT) == {"text": "two"}
        assert not await uow.updates.seen(7, channel="telegram", bot_id=BOT + 5)
        assert list(await uow.inbox.waiting(channel="telegram", bot_id=BOT)) == []
        assert list(await uow.inbox.waiting(channel="telegram", bot_id=OTHER_BOT)) == [
            {"update_id": 7, "bot": 2}
        ]
