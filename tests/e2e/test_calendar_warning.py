"""The scheduler says at start-up when the school calendar lacks a year's public holidays, in a county on
Telegram alone and in one running WeCom as well (whose scheduler adds WeCom's messenger)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from app.container import Services, build_services
from app.scheduler import ReminderScheduler, make_bot
from app.settings import load_settings
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from tests.e2e.conftest import wecom_settings
from tests.e2e.people import WECOM


@pytest.mark.parametrize(
    ("moment", "missing"), [(datetime(2026, 11, 2, 1, 0, tzinfo=UTC), ["2027"]), (None, [])]
)
async def test_starting_the_scheduler_warns_about_a_missing_holiday_year(
    services: Services,
    channel: str,
    database_url: str,
    emulator: Emulator,
    tg_bot: BotState,
    clock: FixedClock,
    wecom_emu: WeComEmulator,
    caplog: pytest.LogCaptureFixture,
    moment: datetime | None,
    missing: list[str],
) -> None:
    if moment is not None:
        clock.set(moment)  # from 1 November the next year is expected; the default clock is in October
    county = services
    if channel == WECOM:
        settings = load_settings(database_url=database_url, **wecom_settings(wecom_emu))
        county = build_services(settings, clock)
    bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
    await bot.initialize()
    scheduler = ReminderScheduler(county, bot, wake_every=60)
    assert (scheduler.wecom is not None) == (channel == WECOM)
    with caplog.at_level(logging.WARNING, logger="app.scheduler"):
        await scheduler.start()
        await scheduler.stop()
    await bot.shutdown()
    if county is not services:
        await county.close()
    warned = [r.getMessage() for r in caplog.records if "no public holidays" in r.getMessage()]
    assert [w.split("holidays for ")[1][:4] for w in warned] == missing
    assert all("CALENDAR_FILE" in w for w in warned)
