"""Reminder fan-out with Telegram's flood limits on: the reminders helper's sender against the emulator."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import Table, scratch_database, services_for
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from tests.factories import build_world


async def fanout(table: Table, backend: str, count: int, rate: float | None = None) -> None:
    """`count` due reminders (100+ teachers, 20 each) sent by one ReminderSender; rate None = the policy's."""
    try:
        from app.scheduler import make_bot
        from bot.sender import ReminderSender, SendLimiter
        from tests.e2e.test_reminders_delivery import create_overdue_cases
    except ImportError as exc:
        table.add("reminders", backend, "fan-out", "n/a (sender not available)", note=str(exc))
        return
    per_teacher = 20
    async with scratch_database(backend) as url, Emulator(limits=True) as emulator:
        tg_bot = emulator.create_bot(username="nol_bench_bot")
        with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
            services = services_for(url, Path(tmp))
            services.clock = FixedClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))
            policy = services.policy
            if rate is not None:
                policy = dataclasses.replace(policy, reminders=dataclasses.replace(policy.reminders,
                                                                                   messages_per_second=rate))
            services.policy = policy
            world = await build_world(services.uow)
            await create_overdue_cases(services, emulator, tg_bot, world, teachers=max(1, count // per_teacher),
                                       per_teacher=per_teacher)
            services.clock.advance(timedelta(days=3, hours=1))
            emulator.reset_counters()
            bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
            await bot.initialize()
            sender = ReminderSender(services.uow, bot, policy=policy, tz=services.tz, clock=services.clock,
                                    worker="bench", limiter=SendLimiter())
            started = time.perf_counter()
            sent = await sender.drain()
            elapsed = time.perf_counter() - started
            await bot.shutdown()
            await services.close()
        too_many = emulator.stats()["too_many_requests"]["total"]
    configured = policy.reminders.messages_per_second
    achieved = sent / elapsed
    table.add("reminders", backend, f"fan-out at {configured:g}/s configured",
              f"{achieved:.1f} msg/s, {too_many} × 429", target="≥ 27 msg/s, 0 × 429",
              note=("PASS" if achieved >= 27 and too_many == 0 else "below target" if too_many == 0 else "429s")
              + f"; {sent:,} sent in {elapsed:.0f} s, limits on (30/s per bot, 1/s per chat)")
    await asyncio.sleep(0)
