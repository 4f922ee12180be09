"""The scheduler says at start-up when the school calendar lacks a year's public holidays."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from app.container import Services
from app.scheduler import ReminderScheduler, make_bot
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState


@pytest.mark.parametrize(
    ("moment", "missing"), [(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), ["2027"]), (None, [])]
)
async def test_starting_the_scheduler_warns_about_a_missing_holiday_year(
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    moment: datetime | None,
    missing: list[str],
) -> None:
    if moment is not None:
        clock.set(moment)  # from 1 November the next year is expected; the default clock is in October
    bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
    await bot.initialize()
    scheduler = ReminderScheduler(services, bot, wake_every=60)
    with caplog.at_level(logging.WARNING, logger="app.scheduler"):
        await scheduler.start()
        await scheduler.stop()
    await bot.shutdown()
    warned = [r.getMessage() for r in caplog.records if "no public holidays" in r.getMessage()]
    assert [w.split("holidays for ")[1][:4] for w in warned] == missing
    assert all("CALENDAR_FILE" in w for w in warned)
