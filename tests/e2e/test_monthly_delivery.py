"""On the configured day (the 1st) the scheduler sends each principal the school's report of the month
that just ended over Telegram."""

from __future__ import annotations

from datetime import UTC, datetime

from telegram.ext import Application

from app.container import Services
from app.scheduler import ReminderScheduler, make_bot
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.e2e.conftest import BindFactory
from tests.factories import World


async def _scheduler(services: Services, emulator: Emulator, tg_bot: BotState) -> ReminderScheduler:
    bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
    await bot.initialize()
    return ReminderScheduler(services, bot)


async def test_principal_gets_the_report_on_the_day_and_only_once(
    polling_bot: Application,
    bound: BindFactory,
    world: World,
    services: Services,
    clock: FixedClock,
    emulator: Emulator,
    tg_bot: BotState,
) -> None:
    principal = await bound("principal")
    scheduler, standby = (
        await _scheduler(services, emulator, tg_bot),
        await _scheduler(services, emulator, tg_bot),
    )
    clock.set(datetime(2026, 10, 31, 0, 0, tzinfo=UTC))  # the 31st, 08:00 in Beijing: October not over
    assert await scheduler.leadership.campaign() and not await standby.leadership.campaign()
    await scheduler.deliver_monthly()
    await principal.refresh()
    assert not any(m.get("document") for m in principal.messages)
    clock.set(datetime(2026, 10, 31, 23, 0, tzinfo=UTC))  # 1 November, 07:00: before the digest time
    assert await scheduler.leadership.campaign()
    await scheduler.deliver_monthly()
    await principal.refresh()
    assert not any(m.get("document") for m in principal.messages)
    clock.set(datetime(2026, 11, 1, 0, 0, tzinfo=UTC))  # the configured day (1st), 08:00
    assert await scheduler.leadership.campaign() and not await standby.leadership.campaign()
    await standby.deliver_monthly()  # only the leader delivers
    await principal.refresh()
    assert not any(m.get("document") for m in principal.messages)
    await scheduler.deliver_monthly()
    report = await principal.wait_for_reply(lambda m: bool(m.get("document")), timeout=20)
    assert report["document"]["file_name"].endswith("_202610.xlsx")  # the month that ended
    await scheduler.deliver_monthly()  # a second scheduler tick or a restart the same day
    await principal.refresh()
    assert sum(1 for m in principal.messages if m.get("document")) == 1
    await scheduler.bot.shutdown()
    await standby.bot.shutdown()
