"""Issue 14: one language per person in every channel. An English speaker who never used /language is
answered AND reminded in English (Telegram: their phone is in English; WeCom reports no client language,
so it is what their phone reported before, kept on the person); a /language choice of 中文 then wins in
both. A choice made elsewhere (the dashboard) holds on WeCom from the first reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from app.container import Services
from bot.messenger import Messengers
from bot.sender import ReminderSender
from bot.wecom.api import App, WeComClient
from bot.wecom.messenger import WeComMessenger
from bot.wecom.tokens import DatabaseTokenStore
from i18n import t
from sandbox.wecom import WeComEmulator
from tests.e2e.conftest import WECOM_AGENT_ID, WECOM_CORP_ID, PersonFactory, invite_code, use_invite
from tests.e2e.people import TELEGRAM, WECOM, Person, Said, TelegramPerson, WeComPerson
from tests.e2e.test_reminders_delivery import make_sender, sender_bot  # noqa: F401 (fixture)
from tests.factories import World
from tests.integration.test_reminders import report
from tests.wecom_chat import words


async def languages_of(services: Services, world: World, who: str) -> tuple[str | None, str | None]:
    async with services.uow() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        return staff.language, staff.reported_language


async def set_languages(services: Services, world: World, who: str, **fields: str) -> None:
    async with services.uow() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        for name, value in fields.items():
            setattr(staff, name, value)
        await uow.commit()


@pytest.fixture
async def wecom_client(wecom_emu: WeComEmulator, services: Services) -> AsyncIterator[WeComClient]:
    client = WeComClient(
        App(WECOM_CORP_ID, WECOM_AGENT_ID, wecom_emu.state.secret),
        base_url=wecom_emu.api_base_url,
        tokens=DatabaseTokenStore(services.uow),
        clock=services.clock,
    )
    yield client
    await client.aclose()


@pytest.fixture
def sender(channel: str, request: pytest.FixtureRequest, services: Services) -> ReminderSender:
    """The reminder sender of a county running the test's channel."""
    if channel == TELEGRAM:
        return make_sender(services, request.getfixturevalue("sender_bot"))
    return ReminderSender(
        services.uow,
        Messengers({WECOM: WeComMessenger(request.getfixturevalue("wecom_client"))}),
        policy=services.policy,
        tz=services.tz,
        clock=services.clock,
        worker="test",
        retry_pause=0.05,
    )


def history(someone: Person) -> str:
    """Everything the app ever wrote to the person (the binding's answer included)."""
    if isinstance(someone, TelegramPerson):
        return "\n".join(m["text"] for m in someone.phone.messages if m["from_bot"])
    assert isinstance(someone, WeComPerson)
    return "\n".join(words(s) for s in someone.chat.member.received)


async def english_speaker(person: PersonFactory, channel: str, services: Services, world: World) -> Person:
    """teacher_a, an English speaker who never chose a language: on Telegram their phone is in English;
    on WeCom (no client language) their Telegram phone said so before, as the staff record keeps it."""
    if channel == WECOM:
        await set_languages(services, world, "teacher_a", reported_language="en")
        return await person("teacher_a")
    return await person("teacher_a", language_code="en")


async def reminder_after_three_days(
    services: Services, world: World, sender: ReminderSender, someone: Person
) -> Said:
    """The first-visit reminder of a case reported today, sent with the clock moved on three days."""
    await report(services.uow, world, services.clock, services.policy)
    services.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    assert await sender.drain() == 1
    return await someone.expect(lambda s: bool(s.buttons))


async def test_an_english_speaker_gets_english_replies_and_reminders_without_choosing(
    person: PersonFactory, channel: str, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await english_speaker(person, channel, services, world)
    assert "You are linked" in history(teacher)
    assert await languages_of(services, world, "teacher_a") == (None, "en")  # remembered, not chosen
    await teacher.send("/help")
    assert t("en", "help.header") in (await teacher.expect(t("en", "help.header"))).text
    reminder = await reminder_after_three_days(services, world, sender, teacher)
    assert t("en", "reminder.button.snooze") in reminder.buttons
    assert "Home visit reminder" in reminder.text


async def test_choosing_chinese_wins_over_the_english_phone_in_replies_and_reminders(
    person: PersonFactory, channel: str, world: World, services: Services, sender: ReminderSender
) -> None:
    teacher = await english_speaker(person, channel, services, world)
    await teacher.send("/language")
    await teacher.choose(t("zh_CN", "language.zh_CN"))
    assert (await teacher.expect(t("zh_CN", "language.set"))).text == t("zh_CN", "language.set")
    assert await languages_of(services, world, "teacher_a") == ("zh_CN", "en")
    await teacher.send("/help")
    assert t("zh_CN", "help.header") in (await teacher.expect(t("zh_CN", "help.header"))).text
    reminder = await reminder_after_three_days(services, world, sender, teacher)
    assert reminder.buttons[-1] == t("zh_CN", "reminder.button.snooze")
    assert "家访提醒" in reminder.text


@pytest.mark.parametrize("channel", [WECOM])
async def test_english_chosen_on_the_dashboard_holds_on_wecom_from_the_first_reply(
    stranger: PersonFactory, world: World, services: Services, sender: ReminderSender
) -> None:
    """WeCom reports no language: a member is addressed by the staff record, English from binding on."""
    await set_languages(services, world, "teacher_a", language="en")
    member = await stranger()
    await use_invite(member, await invite_code(services, world.staff["teacher_a"].id))
    linked = await member.expect("linked")
    assert linked.text.startswith("You are linked")
    await member.send("mycases")
    await member.expect(t("en", "mycases.empty"))
    reminder = await reminder_after_three_days(services, world, sender, member)
    assert t("en", "reminder.button.snooze") in reminder.buttons


@pytest.mark.parametrize("channel", [WECOM])
async def test_an_unbound_wecom_member_is_answered_in_the_deployments_language(
    stranger: PersonFactory, world: World
) -> None:
    """Nobody is known yet and WeCom tells no language: the default (Chinese) until they are bound."""
    member = await stranger()
    await member.send("hello")
    assert (await member.expect("邀请码")).text == t("zh_CN", "wecom.unbound")
