"""On the configured day (the 1st) the scheduler sends each principal the school's report of the month
that just ended, on the principal's channel: a document on Telegram, a file message on WeCom."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from app.container import Services
from app.scheduler import ReminderScheduler, make_bot
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.e2e.recipients import Received, RecipientFactory, recipient, services

__all__ = ["recipient", "services"]  # fixtures: a county running both channels


@pytest.fixture
async def schedulers(
    services: Services, emulator: Emulator, tg_bot: BotState
) -> AsyncIterator[tuple[ReminderScheduler, ReminderScheduler]]:
    """Two schedulers on one database, as two processes: the first to campaign leads."""
    made = []
    for _ in range(2):
        bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
        await bot.initialize()
        made.append(ReminderScheduler(services, bot))
    yield made[0], made[1]
    for scheduler in made:
        await scheduler.stop()
        await scheduler.bot.shutdown()


async def test_principal_gets_the_report_on_the_day_and_only_once(
    recipient: RecipientFactory,
    schedulers: tuple[ReminderScheduler, ReminderScheduler],
    clock: FixedClock,
) -> None:
    principal = await recipient("principal")
    scheduler, standby = schedulers

    def reports() -> list[Received]:
        return [m for m in principal.messages() if m.file_name]

    clock.set(datetime(2026, 10, 31, 0, 0, tzinfo=UTC))  # the 31st, 08:00 in Beijing: October not over
    assert await scheduler.leadership.campaign() and not await standby.leadership.campaign()
    await scheduler.deliver_monthly()
    assert reports() == []
    clock.set(datetime(2026, 10, 31, 23, 0, tzinfo=UTC))  # 1 November, 07:00: before the digest time
    assert await scheduler.leadership.campaign()
    await scheduler.deliver_monthly()
    assert reports() == []
    clock.set(datetime(2026, 11, 1, 0, 0, tzinfo=UTC))  # the configured day (1st), 08:00
    assert await scheduler.leadership.campaign() and not await standby.leadership.campaign()
    await standby.deliver_monthly()  # only the leader delivers
    assert reports() == []
    await scheduler.deliver_monthly()
    [report] = reports()
    assert report.file_name is not None and report.file_name.endswith("_202610.xlsx")  # the month that ended
    await scheduler.deliver_monthly()  # a second scheduler tick or a restart the same day
    assert len(reports()) == 1
