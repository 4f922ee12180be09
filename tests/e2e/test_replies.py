"""Replies that must not get lost: a failed send is retried, a tap on a finished form says what was saved,
a repeated report is recognised, a refusal says what to do instead."""

from __future__ import annotations

import logging

import pytest
from telegram.ext import Application

from app.container import Services
from bot.application import launch, shutdown
from domain.identity import mask_name
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from tests.e2e.conftest import BindFactory, buttons, invite_code, make_application
from tests.factories import World


async def report(phone: Phone, world: World, since: str = "2026-10-12") -> dict:  # type: ignore[type-arg]
    """/report for the first pupil of class A, absent since `since`, up to the summary; returns it."""
    pupil = world.student_in(world.class_a)
    await phone.send("/report")
    ask = await phone.wait_for_reply(lambda m: bool(buttons(m)))
    label = next(
        b for b in buttons(ask) if b.startswith(mask_name(pupil.name)) and pupil.student_number[-4:] in b
    )
    await phone.tap(label)
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.send(since)
    await phone.wait_for_reply(lambda m: "暂不清楚" in buttons(m))
    await phone.tap("暂不清楚")
    await phone.wait_for_reply(lambda m: "完成" in buttons(m))
    await phone.tap("完成")
    await phone.wait_for_reply(lambda m: "跳过" in buttons(m))
    await phone.tap("跳过")
    return await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))


@pytest.mark.parametrize("fault", ["500", "502", "drop"])
async def test_a_reply_that_fails_with_a_5xx_or_a_dropped_connection_is_sent_again(
    polling_bot: Application,
    bound: BindFactory,
    world: World,
    emulator: Emulator,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    phone = await bound("teacher_a")
    emulator.inject_fault("sendMessage", fault, 2)
    await phone.send("/report")
    ask = await phone.wait_for_reply(lambda m: bool(buttons(m)))
    assert "学生" in ask["text"]
    assert emulator.stats()["faults"]["injected"] == {fault: 2}
    # (python-telegram-bot itself logs the 502's HTML body as invalid JSON; the product logs no error)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and not r.name.startswith("telegram")]


async def test_a_reply_that_keeps_failing_ends_in_the_error_handler_after_three_retries(
    polling_bot: Application, bound: BindFactory, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    phone = await bound("teacher_a")
    emulator.inject_fault("sendMessage", "500", 4)  # the first try and three retries
    await phone.send("/help")
    # The apology goes out once Telegram is back: the fifth sendMessage.
    await phone.wait_for_reply(lambda m: "出了点问题" in m["text"])
    assert emulator.stats()["faults"]["injected"] == {"500": 4}


async def test_two_bots_on_one_database_both_apply_their_update_number_one(
    services: Services, emulator: Emulator, world: World
) -> None:
    """Telegram numbers updates per bot: the first update of a second bot on the same database is not
    taken for the first bot's (which would drop it and show the other bot's reply)."""
    bots = [emulator.create_bot(username=f"nol_twin_{n}_bot") for n in (1, 2)]
    applications = [make_application(services, emulator, b) for b in bots]
    try:
        for application in applications:
            await launch(application, poll_timeout=1)
        phones = []
        for who, state in zip(("teacher_a", "teacher_b"), bots, strict=True):
            phone = await Phone.create(emulator.url, state.username, first_name=who, language_code="zh-hans")
            phones.append(phone)
            await phone.start(await invite_code(services, world.staff[who].id))
        for phone, state in zip(phones, bots, strict=True):
            assert state.next_update_id == 2  # both sent update 1
            assert "绑定成功" in (await phone.wait_for_reply(lambda m: "绑定" in m["text"]))["text"]
            await phone.close()
        async with services.uow() as uow:
            for who in ("teacher_a", "teacher_b"):
                assert await uow.directory.binding_for_staff(world.staff[who].id) is not None
    finally:
        for application in applications:
            await shutdown(application)
