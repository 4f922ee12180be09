"""The Telegram inbox and the update log: each update kept once, forgotten when handled, old rows pruned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from domain.clock import FixedClock
from storage.models import ProcessedUpdate
from storage.uow import UnitOfWorkFactory


async def test_a_batch_is_kept_once_and_comes_back_oldest_first_until_forgotten(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        assert await uow.inbox.keep({12: {"update_id": 12}, 10: {"update_id": 10}}, clock.now()) == {10, 12}
        await uow.commit()
    async with uow_factory() as uow:  # fetched again (not confirmed): only the new one is new
        assert await uow.inbox.keep(
            {12: {"update_id": 12}, 13: {"update_id": 13, "x": "消息"}}, clock.now()
        ) == {13}
        await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting()) == [
            {"update_id": 10},
            {"update_id": 12},
            {"update_id": 13, "x": "消息"},
        ]
        await uow.inbox.forget({10, 13})
        await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting()) == [{"update_id": 12}]


async def test_prune_drops_only_rows_older_than_the_cut(
    uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    old, recent = clock.now() - timedelta(days=2), clock.now() - timedelta(hours=1)
    async with uow_factory() as uow:
        await uow.inbox.keep({1: {"update_id": 1}}, old)
        await uow.inbox.keep({2: {"update_id": 2}}, recent)
        uow.updates.mark(1, old)
        assert await uow.updates.first(2, recent)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.inbox.prune(clock.now() - timedelta(days=1))
        await uow.updates.prune(clock.now() - timedelta(days=1))
        await uow.commit()
    async with uow_factory() as uow:
        assert list(await uow.inbox.waiting()) == [{"update_id": 2}]
        assert not await uow.updates.seen(1) and await uow.updates.seen(2)
        assert await uow.session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 1
