"""Reminder journeys on either channel: the scheduler of a county running both channels, and the answer a
person gets to a tapped reminder button (Telegram: the callback's short answer; WeCom: a text message)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.container import build_services
from app.scheduler import ReminderScheduler, make_bot
from app.settings import load_settings
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from tests.e2e.conftest import wecom_settings
from tests.e2e.people import Person, TelegramPerson, WeComPerson
from tests.wecom_chat import labels


@pytest.fixture
async def scheduler(
    database_url: str, clock: FixedClock, wecom_emu: WeComEmulator, emulator: Emulator, tg_bot: BotState
) -> AsyncIterator[ReminderScheduler]:
    """The scheduler as `notoneless run` builds it in a county running both channels: each reminder goes
    to its person's channel (Telegram through the Bot API emulator, WeCom through its emulator)."""
    settings = load_settings(
        database_url=database_url, telegram_bot_username="nol_e2e_bot", **wecom_settings(wecom_emu)
    )
    services = build_services(settings, clock)
    bot = make_bot(tg_bot.token, emulator.base_url, emulator.file_base_url)
    await bot.initialize()
    built = ReminderScheduler(services, bot)
    built.sender.retry_pause = 0.05
    try:
        yield built
    finally:
        await built.stop()
        await bot.shutdown()
        await services.close()


async def tap_for_answer(who: Person, label: str, *, again: bool = False) -> str:
    """Taps a reminder's or digest's button and returns the app's answer to that tap. `again`: the same
    button of the same message or card once more (on WeCom, a second click event on the card)."""
    if isinstance(who, TelegramPerson):
        phone = who.phone
        await phone.refresh()
        before = len(phone.callback_answers)
        await who.tap(label)
        for _ in range(150):  # bounded: until the bot has answered the tap
            await phone.refresh()
            if len(phone.callback_answers) > before:
                return str(phone.callback_answers[before].get("text", ""))
            await asyncio.sleep(0.1)
        raise AssertionError(f"the bot did not answer the tap on {label!r}")
    assert isinstance(who, WeComPerson)
    if not again:
        await who.tap(label)
    else:
        await who.settled()
        chat = who.chat
        card = next(s for s in reversed(chat.member.received) if any(b.startswith(label) for b in labels(s)))
        key = next(b["key"] for b in card.body["template_card"]["button_list"] if b["text"].startswith(label))
        chat.advance()  # a second later: a new click event, not WeCom redelivering the first
        chat.mark = len(chat.member.received)
        assert (await chat.member.tap(card, key)).delivered
    return (await who.expect(lambda s: bool(s.text))).text
