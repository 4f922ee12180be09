"""Onboarding over real HTTP, on Telegram and WeCom: an invite (Telegram's start link, WeCom's code typed
as text) binds once; everyone else gets one clear answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.ext import Application

from app.container import Services
from bot.conversations.catalogue import role_label
from domain.clock import FixedClock
from i18n import t
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from tests.e2e.conftest import (
    BindFactory,
    PersonFactory,
    PhoneFactory,
    invite_code,
    use_invite,
    wecom_handled,
)
from tests.e2e.people import TELEGRAM, WECOM, Person, TelegramPerson, WeComPerson
from tests.factories import World
from tests.wecom_chat import Chat


def how_to_bind(channel: str, language: str = "zh_CN") -> str:
    """What an unbound person is told: open the invite link (Telegram), send the invite code (WeCom)."""
    return t(language, "onboarding.unbound" if channel == TELEGRAM else "wecom.unbound")


def refusal(channel: str, reason: str) -> str:
    """The refusal of an invite, in the words of the channel it was used on (a link, or a typed code)."""
    return t("zh_CN", f"onboarding.invite_{reason}" if channel == TELEGRAM else f"wecom.invite_{reason}")


async def bound_account(services: Services, someone: Person) -> int | None:
    """The staff id the person's account on their channel is bound to, if any."""
    async with services.uow() as uow:
        binding = await uow.directory.account(someone.channel, someone.account)
        return binding.staff_id if binding is not None else None


@pytest.mark.parametrize("command", ["/start", "/help", "/mycases", "/language", "/report", "你好"])
async def test_unbound_user_gets_one_friendly_explanation(
    stranger: PersonFactory, world: World, command: str
) -> None:
    someone = await stranger()
    await someone.send(command)
    said = await someone.expect(lambda s: bool(s.text))
    assert said.text == how_to_bind(someone.channel) and said.buttons == []


@pytest.mark.parametrize("channel", [TELEGRAM])  # only a Telegram client reports the user's language
async def test_unbound_english_user_is_answered_in_english(stranger: PersonFactory, world: World) -> None:
    someone = await stranger("Ann", language_code="en")
    await someone.send("hello")
    assert "invite link" in (await someone.expect("invite")).text


async def test_invite_binds_the_account_once(
    stranger: PersonFactory, world: World, services: Services
) -> None:
    teacher = world.staff["teacher_a"]
    code = await invite_code(services, teacher.id)
    someone = await stranger()
    await use_invite(someone, code)
    reply = await someone.expect("绑定成功")
    assert teacher.name in reply.text and "班主任" in reply.text
    async with services.uow() as uow:
        binding = await uow.directory.account_for_staff(teacher.id)
        assert binding is not None and (binding.channel, binding.account) == (
            someone.channel,
            someone.account,
        )

    intruder = await stranger("Other")
    await use_invite(intruder, code)
    assert (await intruder.expect("已经用过")).text == refusal(intruder.channel, "used")
    assert await bound_account(services, intruder) is None
    async with services.uow() as uow:
        assert any(e.action == "invite_rejected" for e in await uow.audit.entries())


async def test_expired_and_unknown_invites_bind_nothing(
    stranger: PersonFactory, world: World, services: Services, clock: FixedClock
) -> None:
    code = await invite_code(services, world.staff["cadre_a"].id, ttl=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    someone = await stranger()
    await use_invite(someone, code)
    assert (await someone.expect("过期")).text == refusal(someone.channel, "expired")
    await use_invite(someone, "bogus_code_123456")
    assert (await someone.expect("无效")).text == refusal(someone.channel, "unknown")
    assert await bound_account(services, someone) is None


async def test_an_account_bound_to_one_person_cannot_take_another_persons_invite(
    person: PersonFactory, world: World, services: Services
) -> None:
    teacher = await person("teacher_a")
    await use_invite(teacher, await invite_code(services, world.staff["teacher_b"].id))
    assert (await teacher.expect("另一位")).text == refusal(teacher.channel, "account_bound_elsewhere")
    assert await bound_account(services, teacher) == world.staff["teacher_a"].id
    async with services.uow() as uow:
        assert await uow.directory.accounts_of(world.staff["teacher_b"].id) == []


@pytest.mark.parametrize("channel", [WECOM])  # Telegram's link is no text a form could take
async def test_a_code_shaped_text_typed_in_an_open_form_is_no_invite(
    person: PersonFactory, world: World, services: Services
) -> None:
    """On WeCom a code is typed: inside a form the text is the form's (a search on the pupil step)."""
    teacher = await person("teacher_a")
    await teacher.send("/report")
    await teacher.expect(world.student_in(world.class_a).student_number[-4:])
    await teacher.send(await invite_code(services, world.staff["teacher_b"].id))
    await teacher.expect("没有找到")
    assert await bound_account(services, teacher) == world.staff["teacher_a"].id
    async with services.uow() as uow:
        assert await uow.directory.accounts_of(world.staff["teacher_b"].id) == []


async def test_language_can_be_switched_to_english(
    stranger: PersonFactory, world: World, services: Services
) -> None:
    someone = await stranger()
    await use_invite(someone, await invite_code(services, world.staff["principal"].id))
    await someone.expect("绑定成功")
    await someone.send("/language")
    await someone.choose("English")
    assert (await someone.expect("English.")).text == "Language set to English."
    await someone.send("/help")
    assert "Commands" in (await someone.expect("Commands")).text


async def test_stickers_voice_and_stray_text_get_a_clear_answer(person: PersonFactory) -> None:
    teacher = await person("teacher_b")
    for action in (teacher.send_sticker, teacher.send_voice, lambda: teacher.send("随便说点什么")):
        await action()
        await teacher.expect("/help")


async def test_command_menu_is_set_in_chinese_and_english(
    polling_bot: Application,  # type: ignore[type-arg]
    emulator: Emulator,
    tg_bot: BotState,
    world: World,
) -> None:
    """Telegram's setMyCommands (a WeCom app's menu is set in its admin console, not by the product)."""
    menus = {lang: [c["description"] for c in cmds] for (_scope, lang), cmds in tg_bot.commands.items()}
    assert any("帮助" in d for d in menus.get("", []))
    assert any("Help" in d for d in menus.get("en", []))


async def test_writing_again_after_blocking_makes_a_person_reachable(
    person: PersonFactory, world: World, services: Services, clock: FixedClock
) -> None:
    teacher = await person("teacher_a")
    async with services.uow() as uow:
        binding = await uow.directory.account(teacher.channel, teacher.account)
        assert binding is not None
        binding.unreachable_since = clock.now()  # as the sender marks it after a 403 (WeCom: 81013)
        await uow.commit()
    await teacher.send("/help")
    await teacher.expect("/mycases")
    async with services.uow() as uow:
        binding = await uow.directory.account(teacher.channel, teacher.account)
        assert binding is not None and binding.unreachable_since is None


@pytest.mark.parametrize(
    ("who", "listed", "absent"),
    [
        ("teacher_a", ["/report", "/visit", "/return", "/rollcall", "/homeschool"], ["看板"]),
        ("cadre_a", ["/visit", "/return"], ["/report", "/rollcall", "/homeschool", "看板"]),
        ("principal", ["/report", "/visit", "/return", "/homeschool", "看板"], ["/rollcall"]),
    ],
)
async def test_help_lists_only_what_the_role_can_use(
    person: PersonFactory, who: str, listed: list[str], absent: list[str]
) -> None:
    someone = await person(who)
    await someone.send("/help")
    text = (await someone.expect("/mycases")).text
    for everyone in ("/mycases", "/language", "/cancel", "/help", "身份证号"):
        assert everyone in text
    for item in listed:
        assert item in text, (who, item)
    for item in absent:
        assert item not in text, (who, item)


@pytest.mark.parametrize("channel", [TELEGRAM])  # a NUL cannot travel in WeCom's XML callbacks
async def test_a_nul_in_the_start_payload_is_dropped(
    stranger: PersonFactory, world: World, services: Services
) -> None:
    code = await invite_code(services, world.staff["teacher_a"].id)
    someone = await stranger()
    await use_invite(someone, code[:5] + "\x00" + code[5:])
    await someone.expect("绑定成功")


@pytest.mark.parametrize("channel", [WECOM])  # WeCom's analogue: a code pasted with what surrounds it
async def test_a_code_pasted_with_spaces_and_a_line_break_binds(
    stranger: PersonFactory, world: World, services: Services
) -> None:
    code = await invite_code(services, world.staff["teacher_a"].id)
    someone = await stranger()
    await someone.send(f"  {code}\n")
    await someone.expect("绑定成功")
    assert await bound_account(services, someone) == world.staff["teacher_a"].id


async def test_a_person_on_telegram_adds_wecom_with_a_new_invite_and_keeps_both(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    wecom_emu: WeComEmulator,
    wecom_server: str,
    world: World,
    services: Services,
    clock: FixedClock,
) -> None:
    """A second channel: the WeCom account is added beside the Telegram one (both answer), and the
    language chosen on Telegram holds on WeCom from the first reply (WeCom reports none of its own)."""
    teacher = world.staff["teacher_a"]
    phone = TelegramPerson(await bound("teacher_a"))
    await phone.send("/language")
    await phone.choose("English")
    await phone.expect("Language set to English.")
    member = WeComPerson(
        Chat(wecom_emu.add_member("wang"), lambda: clock.advance(timedelta(seconds=1))),
        lambda: wecom_handled(services),
    )
    await use_invite(member, await invite_code(services, teacher.id))
    linked = await member.expect("linked")
    assert linked.text == t("en", "onboarding.bound", name=teacher.name, role=role_label("en", teacher.role))
    async with services.uow() as uow:
        accounts = {(a.channel, a.account) for a in await uow.directory.accounts_of(teacher.id)}
        assert accounts == {(TELEGRAM, phone.account), (WECOM, "wang")}
        assert (await uow.directory.account_for_staff(teacher.id)).channel == WECOM  # type: ignore[union-attr]
    for someone in (member, phone):
        await someone.send("/help")
        await someone.expect("Commands")


async def test_a_telegram_phone_is_refused_an_invite_already_used_on_wecom(
    polling_bot: Application,  # type: ignore[type-arg]
    phones: PhoneFactory,
    wecom_emu: WeComEmulator,
    wecom_server: str,
    world: World,
    services: Services,
    clock: FixedClock,
) -> None:
    """An invite is one binding, whatever the channel: the code typed on WeCom no longer opens Telegram."""
    code = await invite_code(services, world.staff["teacher_a"].id)
    member = WeComPerson(
        Chat(wecom_emu.add_member("wang"), lambda: clock.advance(timedelta(seconds=1))),
        lambda: wecom_handled(services),
    )
    await use_invite(member, code)
    await member.expect("绑定成功")
    phone = TelegramPerson(await phones())
    await use_invite(phone, code)
    assert (await phone.expect("已经用过")).text == refusal(TELEGRAM, "used")
    assert await bound_account(services, phone) is None
