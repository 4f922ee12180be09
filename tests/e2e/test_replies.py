"""Replies that must not get lost: a failed send is retried, a tap on a finished form says what was saved,
a repeated report is recognised, a refusal says what to do instead."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from telegram.ext import Application

from app.container import Services
from bot.application import launch, shutdown
from bot.conversations.engine import KEEP_RECEIPT
from domain.audit import Actor
from domain.casework.cases import change_status
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from domain.privacy.identity import mask_name
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from storage.models import Case
from tests.accounts import draft_key
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
                assert await uow.directory.account_for_staff(world.staff[who].id) is not None
    finally:
        for application in applications:
            await shutdown(application)


async def tap_and_answer(phone: Phone, label: str, message_id: int) -> str:
    """Taps a button and returns the short answer the bot shows for that tap (bounded wait)."""
    await phone.refresh()
    before = len(phone.callback_answers)
    await phone.tap(label, message_id=message_id)
    for _ in range(150):
        await phone.refresh()
        if len(phone.callback_answers) > before:
            return str(phone.callback_answers[before].get("text", ""))
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not answer the tap")


async def reports_of(services: Services, world: World) -> tuple[list[str], int]:
    """The case numbers of class A's first pupil, and how many absence reports they hold."""
    pupil = world.student_in(world.class_a)
    async with services.uow() as uow:
        cases = (await uow.session.scalars(select(Case).where(Case.student_id == pupil.id))).all()
        events = [e for c in cases for e in await uow.cases.events(c.id) if e.kind == "absence_reported"]
    return [c.number for c in cases], len(events)


async def test_a_confirmation_lost_after_the_save_comes_with_the_case_number_when_submit_is_tapped_again(
    polling_bot: Application, bound: BindFactory, world: World, emulator: Emulator, services: Services
) -> None:
    phone = await bound("teacher_a")
    summary = await report(phone, world)
    emulator.inject_fault("sendMessage", "500", 4)  # the confirmation's first try and its three retries
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.wait_for_reply(lambda m: "出了点问题" in m["text"])  # saved, but the teacher cannot tell
    (number,), reports = await reports_of(services, world)
    assert reports == 1
    answer = await tap_and_answer(phone, "✅ 提交", summary["message_id"])
    assert answer == f"已提交：个案 {number}"
    confirmation = await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    assert number in confirmation["text"]
    # Delivered now: a further tap answers with the receipt and sends nothing more.
    assert await tap_and_answer(phone, "✅ 提交", summary["message_id"]) == f"已提交：个案 {number}"
    await phone.refresh()
    assert sum("个案编号" in m["text"] for m in phone.messages) == 1
    assert await reports_of(services, world) == ([number], 1)
    assert emulator.stats()["faults"]["injected"] == {"500": 4}


async def test_a_submitted_form_answers_with_its_receipt_for_three_days_then_as_ended(
    polling_bot: Application, bound: BindFactory, world: World, services: Services, clock: FixedClock
) -> None:
    phone = await bound("teacher_a")
    await phone.send("/report")
    cancelled = await phone.wait_for_reply(lambda m: bool(buttons(m)))
    await phone.send("/cancel")
    await phone.wait_for_reply(lambda m: "已取消" in m["text"])
    ended = await tap_and_answer(phone, buttons(cancelled)[0], cancelled["message_id"])
    assert "已结束或已取消" in ended  # nothing was submitted: no receipt
    summary = await report(phone, world)
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    (number,), _ = await reports_of(services, world)
    assert await tap_and_answer(phone, "✅ 提交", summary["message_id"]) == f"已提交：个案 {number}"
    clock.advance(KEEP_RECEIPT + timedelta(minutes=1))
    assert "已结束或已取消" in await tap_and_answer(phone, "✅ 提交", summary["message_id"])
    async with services.uow() as uow:  # and pruned with the update log
        assert (
            await uow.drafts.receipt(
                await draft_key(uow, phone.user_id), since=clock.now() - timedelta(days=30)
            )
            is not None
        )
        await uow.drafts.prune_receipts(clock.now() - KEEP_RECEIPT)
        await uow.commit()
        assert (
            await uow.drafts.receipt(
                await draft_key(uow, phone.user_id), since=clock.now() - timedelta(days=30)
            )
            is None
        )


async def test_the_same_absence_reported_twice_is_answered_with_its_case_number(
    polling_bot: Application, bound: BindFactory, world: World, services: Services
) -> None:
    first, second = await bound("teacher_a"), await bound("subject")
    await first.tap("✅ 提交", message_id=(await report(first, world))["message_id"])
    await first.wait_for_reply(lambda m: "个案编号" in m["text"])
    (number,), _ = await reports_of(services, world)
    for phone in (first, second):  # the form filled in again, and by the subject teacher
        summary = await report(phone, world)
        await phone.tap("✅ 提交", message_id=summary["message_id"])
        again = await phone.wait_for_reply(lambda m: "已登记为个案" in m["text"])
        assert number in again["text"] and "没有重复登记" in again["text"]
        assert "上一个未完成" not in " ".join(m["text"] for m in phone.messages)  # the receipt is no draft
        async with services.uow() as uow:
            assert await uow.drafts.get(await draft_key(uow, phone.user_id)) is None  # the form ended
    assert await reports_of(services, world) == ([number], 1)
    # A new absence after the pupil went back to school is recorded on the same case.
    async with services.uow() as uow:
        case = await uow.cases.latest_for_student(world.student_in(world.class_a).id)
        assert case is not None
        await change_status(uow, case, CaseStatus.RETURNED, Actor.system("test"), now=services.clock.now())
        await uow.commit()
    summary = await report(first, world, since="2026-10-13")  # today: after the first day
    await first.tap("✅ 提交", message_id=summary["message_id"])
    await first.wait_for_reply(lambda m: "重新开启" in m["text"])
    assert await reports_of(services, world) == ([number], 2)
