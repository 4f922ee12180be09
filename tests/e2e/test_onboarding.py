"""Onboarding over real HTTP: /start with an invite binds once; everyone else gets one clear answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram.ext import Application

from app.container import Services
from domain.clock import FixedClock
from sandbox.emulator import Emulator
from sandbox.state import BotState
from tests.e2e.conftest import BindFactory, PhoneFactory, invite_code
from tests.factories import World


async def test_unbound_user_gets_one_friendly_explanation(
    polling_bot: Application, phones: PhoneFactory, world: World
) -> None:
    phone = await phones()
    await phone.send("/start")
    reply = await phone.wait_for_reply()
    assert "邀请链接" in reply["text"]
    await phone.send("/help")
    assert "邀请链接" in (await phone.wait_for_reply())["text"]


async def test_unbound_english_user_is_answered_in_english(
    polling_bot: Application, phones: PhoneFactory, world: World
) -> None:
    phone = await phones(first_name="Ann", language_code="en")
    await phone.send("hello")
    assert "invite link" in (await phone.wait_for_reply())["text"]


async def test_invite_binds_the_account_once(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services
) -> None:
    teacher = world.staff["teacher_a"]
    code = await invite_code(services, teacher.id)
    phone = await phones()
    await phone.start(code)
    reply = await phone.wait_for_reply()
    assert "绑定成功" in reply["text"] and teacher.name in reply["text"] and "班主任" in reply["text"]
    async with services.uow() as uow:
        binding = await uow.directory.account_for_staff(teacher.id)
        assert binding is not None and binding.account == str(phone.user_id)

    intruder = await phones(first_name="Other")
    await intruder.start(code)
    assert "已经用过" in (await intruder.wait_for_reply())["text"]
    async with services.uow() as uow:
        assert await uow.directory.account("telegram", str(intruder.user_id)) is None
        assert any(e.action == "invite_rejected" for e in await uow.audit.entries())


async def test_expired_and_unknown_invites_bind_nothing(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services, clock: FixedClock
) -> None:
    code = await invite_code(services, world.staff["cadre_a"].id, ttl=timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    phone = await phones()
    await phone.start(code)
    assert "过期" in (await phone.wait_for_reply())["text"]
    await phone.start("bogus_code_123456")
    assert "无效" in (await phone.wait_for_reply())["text"]
    async with services.uow() as uow:
        assert await uow.directory.account("telegram", str(phone.user_id)) is None


async def test_language_can_be_switched_to_english(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services
) -> None:
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["principal"].id))
    await phone.wait_for_reply()
    await phone.send("/language")
    await phone.wait_for_reply(lambda m: bool(m.get("reply_markup")))
    await phone.tap("English")
    assert (await phone.wait_for_reply())["text"] == "Language set to English."
    await phone.send("/help")
    assert "Commands" in (await phone.wait_for_reply())["text"]


async def test_stickers_voice_and_stray_text_get_a_clear_answer(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services
) -> None:
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_b"].id))
    await phone.wait_for_reply()
    for action in (phone.send_sticker(), phone.send_voice(), phone.send("随便说点什么")):
        await action
        assert "/help" in (await phone.wait_for_reply())["text"]


async def test_command_menu_is_set_in_chinese_and_english(
    polling_bot: Application, emulator: Emulator, tg_bot: BotState, world: World
) -> None:
    menus = {lang: [c["description"] for c in cmds] for (_scope, lang), cmds in tg_bot.commands.items()}
    assert any("帮助" in d for d in menus.get("", []))
    assert any("Help" in d for d in menus.get("en", []))


async def test_writing_again_after_blocking_makes_a_person_reachable(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services, clock: FixedClock
) -> None:
    phone = await phones()
    await phone.start(await invite_code(services, world.staff["teacher_a"].id))
    await phone.wait_for_reply()
    async with services.uow() as uow:
        binding = await uow.directory.account_for_staff(world.staff["teacher_a"].id)
        assert binding is not None
        binding.unreachable_since = clock.now()  # as the sender marks it after a 403
        await uow.commit()
    await phone.send("/help")
    await phone.wait_for_reply()
    async with services.uow() as uow:
        binding = await uow.directory.account_for_staff(world.staff["teacher_a"].id)
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
    polling_bot: Application, bound: BindFactory, who: str, listed: list[str], absent: list[str]
) -> None:
    phone = await bound(who)
    await phone.send("/help")
    text = (await phone.wait_for_reply(lambda m: "/mycases" in m["text"]))["text"]
    for everyone in ("/mycases", "/language", "/cancel", "/help", "身份证号"):
        assert everyone in text
    for item in listed:
        assert item in text, (who, item)
    for item in absent:
        assert item not in text, (who, item)


async def test_a_nul_in_the_start_payload_is_dropped(
    polling_bot: Application, phones: PhoneFactory, world: World, services: Services
) -> None:
    teacher = world.staff["teacher_a"]
    code = await invite_code(services, teacher.id)
    phone = await phones()
    await phone.start(code[:5] + "\x00" + code[5:])
    assert "绑定成功" in (await phone.wait_for_reply())["text"]
