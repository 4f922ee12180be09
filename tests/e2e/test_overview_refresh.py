"""The scheduler keeps the overview snapshots of large areas (domain.reports.overview_snapshots) fresh."""

from __future__ import annotations

import asyncio

from app.container import Services
from app.scheduler import ReminderScheduler, make_bot
from domain.people.scope import scope_for
from domain.reports.tally import scope_key
from sandbox.emulator import Emulator
from sandbox.state import BotState
from storage import tallies
from tests.factories import World
from tests.integration.test_reminders import report


async def test_the_scheduler_counts_the_overview_of_large_areas(
    world: World, services: Services, emulator: Emulator, tg_bot: BotState
) -> None:
    await report(services.uow, world, services.clock, services.policy)
    services.settings = services.settings.model_copy(update={"overview_live_max_cases": 0})
    async with services.uow() as uow:
        wanted = scope_key(await scope_for(uow, world.staff["principal"]))
    bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
    await bot.initialize()
    scheduler = ReminderScheduler(services, bot, wake_every=60)
    await scheduler.start()
    try:
        stored: set[str] = set()
        for _ in range(100):
            async with services.uow() as uow:
                stored = set(await tallies.snapshot_keys(uow.session))
            if stored:
                break
            await asyncio.sleep(0.1)
    finally:
        await scheduler.stop()
        await bot.shutdown()
    assert wanted in stored
