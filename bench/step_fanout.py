"""Reminder fan-out for bench.step_cost: the real ReminderSender drains N due reminders against the
emulator in its own process, Telegram's flood limits on (30/s per bot, 1/s per chat)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from app.container import Services
from bench.bench_reminders import ShiftedClock
from bench.harness import scratch_database, services_for
from bench.step_procs import Window, emulator_process
from storage.models import ChannelAccount
from tests.factories import add_overdue_caseload, build_world


@dataclass
class Fanout:
    backend: str
    due: int
    sent: int
    rate: float  # the policy's messages per second
    too_many: int  # 429 answers
    delivered: int  # messages the emulator holds
    duplicates: int  # messages with the same text in the same chat, beyond the first
    window: Window  # "bot" is this process: the sender

    @property
    def achieved(self) -> float:
        return self.sent / self.window.wall if self.window.wall else float("nan")


async def due_reminders(services: Services, accounts: list[int], per_teacher: int) -> None:
    """A class teacher per account, each with `per_teacher` fresh absent cases, and the reminders that
    planning would write for them (the rules of domain.reminders, inserted in bulk for a short set-up);
    the same set-up as tests/e2e/test_reminders_delivery.py's create_overdue_cases."""
    world = await build_world(services.uow)
    now = services.clock.now()
    async with services.uow() as uow:
        staff = await add_overdue_caseload(
            uow, world, services.policy, services.tz, teachers=len(accounts), per_teacher=per_teacher, now=now
        )
        uow.session.add_all(
            ChannelAccount(
                staff_id=member.id,
                channel="telegram",
                account=str(account),
                conversation=str(account),
                bound_at=now,
            )
            for member, account in zip(staff, accounts, strict=True)
        )
        await uow.commit()


async def fanout(backend: str, count: int) -> Fanout:
    """`count` due reminders sent by one ReminderSender with the shipped policy."""
    from app.scheduler import make_bot
    from bot.limits import SendLimiter
    from bot.messenger import Messengers, TelegramMessenger
    from bot.sender import ReminderSender

    with tempfile.TemporaryDirectory(prefix="nol_bench_") as tmp:
        folder = Path(tmp)
        async with emulator_process(folder, limits=True) as emu, scratch_database(backend) as url:
            services = services_for(url, folder)
            clock = ShiftedClock(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))  # 09:00 in Beijing
            services.clock = clock
            try:
                # 20 a teacher, but at least 40 chats: Telegram's 1 message/s per chat must not set the pace
                per_teacher = max(1, min(20, count // 40))
                accounts = await emu.users(max(1, count // per_teacher))
                await due_reminders(services, accounts, per_teacher)
                clock.offset += timedelta(days=3, hours=1)  # every first visit is now overdue
                bot = make_bot(emu.token, f"{emu.url}/bot", f"{emu.url}/file/bot")
                await bot.initialize()
                sender = ReminderSender(
                    services.uow,
                    Messengers({"telegram": TelegramMessenger(bot, SendLimiter())}),
                    policy=services.policy,
                    tz=services.tz,
                    clock=services.clock,
                    worker="bench",
                )
                window = Window(bot=os.getpid(), emulator=emu.pid, database_url=url)
                async with window.measure():
                    sent = await sender.drain()
                await bot.shutdown()
            finally:
                await services.close()
            async with httpx.AsyncClient(timeout=30) as client:
                stats = (await client.get(f"{emu.url}/_control/stats")).json()["result"]
            delivered = await emu.command("delivered")
    return Fanout(
        backend,
        len(accounts) * per_teacher,  # one first-visit reminder a case falls due; later ones do not
        sent,
        services.policy.reminders.messages_per_second,
        int(stats["too_many_requests"]["total"]),
        int(delivered["messages"]),
        int(delivered["duplicates"]),
        window,
    )
