"""Issue 14: one language per person in every channel. A teacher whose phone is in English and who never
used /language is answered AND reminded in English; a /language choice of 中文 then wins in both."""

from __future__ import annotations

from datetime import timedelta

from telegram import Bot
from telegram.ext import Application

from app.container import Services
from i18n import t
from sandbox.phone import Phone
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.test_reminders_delivery import make_sender, sender_bot  # noqa: F401 (fixture)
from tests.factories import World
from tests.integration.test_reminders import report


async def languages_of(services: Services, world: World, who: str) -> tuple[str | None, str | None]:
    async with services.uow() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        return staff.language, staff.reported_language


async def reminder_after_three_days(services: Services, world: World, bot: Bot, phone: Phone) -> dict:  # type: ignore[type-arg]
    """The first-visit reminder of a case reported today, sent with the clock moved on three days."""
    await report(services.uow, world, services.clock, services.policy)
    sender = make_sender(services, bot)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    return await phone.wait_for_reply(lambda m: bool(buttons(m)))


async def test_an_english_phone_gets_english_replies_and_reminders_without_choosing(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    sender_bot: Bot,  # noqa: F811
) -> None:
    phone = await bound("teacher_a", language_code="en")
    assert any("linked" in m["text"] for m in phone.messages if m["from_bot"])
    assert await languages_of(services, world, "teacher_a") == (None, "en")  # remembered, not chosen
    await phone.send("/help")
    assert t("en", "help.header") in (await phone.wait_for_reply())["text"]
    reminder = await reminder_after_three_days(services, world, sender_bot, phone)
    assert t("en", "reminder.button.snooze") in buttons(reminder)
    assert "Home visit reminder" in reminder["text"]


async def test_choosing_chinese_wins_over_the_english_phone_in_replies_and_reminders(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    sender_bot: Bot,  # noqa: F811
) -> None:
    phone = await bound("teacher_a", language_code="en")
    await phone.send("/language")
    await phone.wait_for_reply(lambda m: bool(m.get("reply_markup")))
    await phone.tap(t("zh_CN", "language.zh_CN"))
    await phone.wait_for_reply(lambda m: m["text"] == t("zh_CN", "language.set"))
    assert await languages_of(services, world, "teacher_a") == ("zh_CN", "en")
    await phone.send("/help")
    assert t("zh_CN", "help.header") in (await phone.wait_for_reply())["text"]
    reminder = await reminder_after_three_days(services, world, sender_bot, phone)
    assert buttons(reminder)[-1] == t("zh_CN", "reminder.button.snooze")
    assert "家访提醒" in reminder["text"]
