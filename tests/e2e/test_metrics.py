"""The counters behind /metrics move with real work: chat updates through the emulator (ok and failed),
reminders sent after a 429."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from telegram import Bot, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from app.container import Services
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.e2e.conftest import BindFactory
from tests.e2e.test_reminders_delivery import bind_directly, make_sender, received, sender_bot
from tests.factories import World
from tests.integration.test_reminders import report
from tests.waiting import until

__all__ = ["sender_bot"]  # the fixture, shared with the delivery tests


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_update_is_counted_with_its_outcome_and_timed(
    polling_bot: Application,
    bound: BindFactory,  # type: ignore[type-arg]
) -> None:
    async def boom(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raise RuntimeError("a handler failing (test)")

    polling_bot.add_handler(MessageHandler(filters.Regex("^boom$"), boom), group=-1)
    phone = await bound("teacher_a")
    ok = sample("notoneless_updates_total", channel="telegram", outcome="ok")
    failed = sample("notoneless_updates_total", channel="telegram", outcome="failed")
    steps = sample("notoneless_step_seconds_count", channel="telegram")

    await phone.send("/help")
    await phone.wait_for_reply(lambda m: "/report" in m["text"])
    await phone.send("boom")
    await phone.wait_for_reply(lambda m: "出了点问题" in m["text"])

    # Counted once the update is done, which is a moment after its reply arrived.
    await until(lambda: sample("notoneless_step_seconds_count", channel="telegram") == steps + 2, "2 steps")
    assert sample("notoneless_updates_total", channel="telegram", outcome="ok") == ok + 1
    assert sample("notoneless_updates_total", channel="telegram", outcome="failed") == failed + 1


async def test_reminders_sent_and_429s_are_counted(
    world: World, services: Services, emulator: Emulator, tg_bot: BotState, sender_bot: Bot
) -> None:
    chat = await bind_directly(services, emulator, tg_bot, world.staff["teacher_a"].id)
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    sent, limited = (
        sample("notoneless_reminders_total", result="sent"),
        sample("notoneless_rate_limited_total", sender="reminders"),
    )
    emulator.inject_fault("sendMessage", "429", 1, retry_after=1)
    assert await make_sender(services, sender_bot).drain() == 1
    assert len(received(emulator, tg_bot, chat)) == 1
    assert sample("notoneless_reminders_total", result="sent") == sent + 1
    assert sample("notoneless_rate_limited_total", sender="reminders") == limited + 1
