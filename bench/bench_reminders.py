"""Reminder fan-out with Telegram's flood limits on, as shipped: one sender alone, then two schedulers at once."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from app.container import Services
from bench.harness import Table, scratch_database, services_for
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.drills.reminders import sent_counts
from tests.factories import build_world

PER_TEACHER = 20
TARGET = "≥ 27 msg/s, 0 × 429"
LIMITS = "limits on (30/s per bot, 1/s per chat)"


class ShiftedClock:
    """Real time moved to the benchmark's day, so leases are renewed and expire as in production."""

    def __init__(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@asynccontextmanager
async def due(
    backend: str, count: int, folder: Path, processes: int
) -> AsyncIterator[tuple[list[Services], Emulator, BotState]]:
    """`count` due reminders (100+ teachers, 20 each) and `processes` views of the database, each with
    its own engine (as separate scheduler processes would have), on one clock."""
    from tests.e2e.test_reminders_delivery import create_overdue_cases

    async with scratch_database(backend) as url, Emulator(limits=True) as emulator:
        tg_bot = emulator.create_bot(username="nol_bench_bot")
        views = [services_for(url, folder) for _ in range(processes)]
        clock = ShiftedClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))
        for view in views:
            view.clock = clock
        try:
            world = await build_world(views[0].uow)
            await create_overdue_cases(
                views[0],
                emulator,
                tg_bot,
                world,
                teachers=max(1, count // PER_TEACHER),
                per_teacher=PER_TEACHER,
            )
            clock.offset += timedelta(days=3, hours=1)
            emulator.reset_counters()
            yield views, emulator, tg_bot
        finally:
            for view in views:
                await view.close()


def verdict(achieved: float, too_many: int) -> str:
    return "PASS" if achieved >= 27 and too_many == 0 else "below target" if too_many == 0 else "429s"


async def fanout(table: Table, backend: str, count: int) -> None:
    """One ReminderSender with the shipped policy drains every due reminder."""
    from app.scheduler import make_bot
    from bot.limits import SendLimiter
    from bot.messenger import Messengers, TelegramMessenger
    from bot.sender import ReminderSender

    with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
        async with due(backend, count, Path(tmp), 1) as ([services], emulator, tg_bot):
            bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
            await bot.initialize()
            sender = ReminderSender(
                services.uow,
                Messengers({"telegram": TelegramMessenger(bot, SendLimiter())}),
                policy=services.policy,
                tz=services.tz,
                clock=services.clock,
                worker="bench",
            )
            started = time.perf_counter()
            sent = await sender.drain()
            elapsed = time.perf_counter() - started
            await bot.shutdown()
            too_many = emulator.stats()["too_many_requests"]["total"]
            rate = services.policy.reminders.messages_per_second
    achieved = sent / elapsed
    table.add(
        "reminders",
        backend,
        f"fan-out, one sender, shipped policy ({rate:g}/s)",
        f"{achieved:.1f} msg/s, {too_many} × 429",
        target=TARGET,
        note=f"{verdict(achieved, too_many)}; {sent:,} sent in {elapsed:.0f} s, {LIMITS}",
    )


async def two_schedulers(table: Table, backend: str, count: int) -> None:
    """Two ReminderSchedulers, each with its own engine, Bot and rate limiter (two processes in all but
    name), started together: only the leader sends, so the bot's combined rate is one policy rate."""
    from sqlalchemy import func, select

    from app.scheduler import ReminderScheduler, make_bot
    from bot.limits import SendLimiter
    from bot.messenger import Messengers, TelegramMessenger
    from bot.sender import ReminderSender
    from storage.models import Reminder

    with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
        async with due(backend, count, Path(tmp), 2) as (views, emulator, tg_bot):
            schedulers = []
            for n, view in enumerate(views):
                bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
                await bot.initialize()
                sender = ReminderSender(
                    view.uow,
                    Messengers({"telegram": TelegramMessenger(bot, SendLimiter())}),
                    policy=view.policy,
                    tz=view.tz,
                    clock=view.clock,
                    worker=f"bench-{n}",
                )
                schedulers.append(ReminderScheduler(view, bot, sender=sender))
            try:
                for scheduler in schedulers:
                    await scheduler.start()
                async with asyncio.timeout(count / 10 + 600):
                    while (await sent_counts(views[0]))["sent"] < count:
                        await asyncio.sleep(0.5)
            finally:
                for scheduler in schedulers:
                    await scheduler.stop()
                    await scheduler.bot.shutdown()
            async with views[0].uow() as uow:
                q = (
                    select(
                        Reminder.claimed_by,
                        func.count(),
                        func.min(Reminder.sent_at),
                        func.max(Reminder.sent_at),
                    )
                    .where(Reminder.state == "sent")
                    .group_by(Reminder.claimed_by)
                )
                by_worker = (await uow.session.execute(q)).all()
            too_many = emulator.stats()["too_many_requests"]["total"]
            rate = views[0].policy.reminders.messages_per_second
    sent = sum(n for _, n, _, _ in by_worker)
    elapsed = (
        # only sent reminders were counted, and each has a sent_at: neither bound is NULL
        max(cast(datetime, last) for *_, last in by_worker)
        - min(cast(datetime, first) for _, _, first, _ in by_worker)
    ).total_seconds()
    achieved = (sent - 1) / elapsed
    senders = ", ".join(f"{worker} {n:,}" for worker, n, _, _ in sorted(by_worker))
    table.add(
        "reminders",
        backend,
        f"fan-out, two schedulers at once, shipped policy ({rate:g}/s)",
        f"{achieved:.1f} msg/s combined, {too_many} × 429",
        target=TARGET,
        note=f"{verdict(achieved, too_many)}; {sent:,} sent in {elapsed:.0f} s (first to last message) "
        f"by {senders}; {LIMITS}",
    )
