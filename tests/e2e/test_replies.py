"""Replies that must not get lost: a failed send is retried, a tap on a finished form says what was saved,
a repeated report is recognised, a refusal says what to do instead."""

from __future__ import annotations

import logging

import pytest
from telegram.ext import Application

from domain.identity import mask_name
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from tests.e2e.conftest import BindFactory, buttons
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
