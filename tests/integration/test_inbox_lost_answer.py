"""A batch the database kept while its answer was lost (the connection cut after the INSERT, or before the
COMMIT's answer came back): the Updater fetches it again, and it is handled then, once. Before, the
second try found every row stored already, took the batch for a replay of a killed process's updates,
confirmed it to Telegram and handled none of it until the next start-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Update
from telegram.ext import Application

from app.container import Services, build_services
from app.settings import load_settings
from bot.context import CHANNEL
from bot.inbox import Inbox
from domain.clock import FixedClock

BOT = 100001


@pytest.fixture
async def services(database_url: str, clock: FixedClock) -> AsyncIterator[Services]:
    svc = build_services(load_settings(database_url=database_url), clock)
    yield svc
    await svc.close()


async def _started(services: Services) -> Inbox:
    """An inbox after its start-up replay (which finds nothing here), as a polling bot's is."""
    inbox = Inbox(services, polling=True, bot_id=BOT)
    assert await inbox.replay(Application.builder().token(f"{BOT}:test").build()) == 0
    return inbox


async def test_a_batch_kept_by_a_try_whose_answer_was_lost_is_handled_once(
    services: Services, clock: FixedClock
) -> None:
    inbox = await _started(services)
    batch = [Update(7), Update(8)]
    async with services.uow() as uow:  # what the failed try left: the rows, stored and committed
        await uow.inbox.keep({7: {"update_id": 7}}, clock.now(), channel=CHANNEL, bot_id=BOT)
        await uow.commit()
    assert [u.update_id for u in await inbox.keep(batch)] == [7, 8]  # both handled now
    # fetched again (the Updater had not confirmed it yet): handed over already, not handled twice
    assert await inbox.keep(batch) == []
    assert [u.update_id for u in await inbox.keep([Update(8), Update(9)])] == [9]


async def test_updates_a_killed_process_left_are_not_handed_over_twice(
    services: Services, clock: FixedClock
) -> None:
    async with services.uow() as uow:  # kept by a process killed before handling it
        await uow.inbox.keep({5: {"update_id": 5}}, clock.now(), channel=CHANNEL, bot_id=BOT)
        await uow.commit()
    inbox = Inbox(services, polling=True, bot_id=BOT)
    application = Application.builder().token(f"{BOT}:test").build()
    assert await inbox.replay(application) == 1  # queued from the inbox at start-up
    assert application.update_queue.qsize() == 1
    # Telegram sends it again (never confirmed): the replay handles it, not this batch
    assert [u.update_id for u in await inbox.keep([Update(5), Update(6)])] == [6]
