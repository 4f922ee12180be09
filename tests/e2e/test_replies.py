"""Replies that must not get lost, on Telegram and WeCom: a failed send is retried, a tap on a finished
form says what was saved, a repeated report is recognised, a refusal says what to do instead."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

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
from sandbox.wecom import WeComEmulator
from sandbox.wecom.state import Sent
from storage.models import Case
from tests.accounts import draft_key
from tests.e2e.conftest import PersonFactory, invite_code, make_application
from tests.e2e.people import TELEGRAM, WECOM, Person, Said, TelegramPerson, WeComPerson
from tests.factories import World
from tests.waiting import until
from tests.wecom_chat import labels, words


async def report(someone: Person, world: World, since: str = "2026-10-12") -> Said:
    """/report for the first pupil of class A, absent since `since`, up to the summary; returns it."""
    pupil = world.student_in(world.class_a)
    await someone.send("/report")
    ask = await someone.expect(pupil.student_number[-4:])
    assert "上一个未完成" not in ask.text  # a submitted form's receipt is no draft to discard
    label = ask.button(pupil.student_number[-4:])
    assert label.startswith(mask_name(pupil.name))
    await someone.tap(label)
    await someone.expect(lambda s: "今天" in s.buttons)
    await someone.send(since)
    await someone.choose("暂不清楚")
    await someone.choose("完成")
    await someone.choose("跳过")
    return await someone.expect("✅ 提交")


def telegram(someone: Person) -> Phone:
    assert isinstance(someone, TelegramPerson)
    return someone.phone


def wecom(someone: Person) -> WeComPerson:
    assert isinstance(someone, WeComPerson)
    return someone


def card_with(member: WeComPerson, label: str) -> Sent:
    """The newest card the member received that has a button with this label."""
    return next(s for s in reversed(member.chat.member.received) if label in labels(s))


async def tap_again(member: WeComPerson, card: Sent, label: str) -> str:
    """Taps a button of a card shown earlier (one WeCom has not greyed out: a card of a form since
    cancelled, or a second quick tap); returns the text answered (WeCom has no toast)."""
    await member.settled()
    key = next(str(b["key"]) for b in card.body["template_card"]["button_list"] if b["text"] == label)
    member.chat.advance()
    member.chat.mark = len(member.chat.member.received)
    assert (await member.chat.member.tap(card, key)).delivered
    return (await member.expect(lambda s: bool(s.text))).text


@pytest.mark.parametrize("channel", [TELEGRAM])  # the Bot API's 5xx and drops, retried by the bot
@pytest.mark.parametrize("fault", ["500", "502", "drop"])
async def test_a_reply_that_fails_with_a_5xx_or_a_dropped_connection_is_sent_again(
    person: PersonFactory, emulator: Emulator, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    teacher = await person("teacher_a")
    emulator.inject_fault("sendMessage", fault, 2)
    await teacher.send("/report")
    ask = await teacher.expect(lambda s: bool(s.buttons))
    assert "学生" in ask.text
    assert emulator.stats()["faults"]["injected"] == {fault: 2}
    # (python-telegram-bot itself logs the 502's HTML body as invalid JSON; the product logs no error)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and not r.name.startswith("telegram")]


@pytest.mark.parametrize("channel", [WECOM])  # WeCom's analogue: "system busy" (-1) and 5xx
@pytest.mark.parametrize("fault", ["busy", "500"])
async def test_a_wecom_reply_that_meets_busy_or_a_5xx_is_sent_again(
    person: PersonFactory, wecom_emu: WeComEmulator, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    teacher = await person("teacher_a")
    wecom_emu.faults.inject("message/send", fault, count=2)
    await teacher.send("/report")
    ask = await teacher.expect(lambda s: bool(s.buttons))
    assert "学生" in ask.text
    assert dict(wecom_emu.faults.injected) == {fault: 2}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.")]


@pytest.mark.parametrize("channel", [TELEGRAM])  # python-telegram-bot's error handler (WeCom keeps the reply)
async def test_a_reply_that_keeps_failing_ends_in_the_error_handler_after_three_retries(
    person: PersonFactory, emulator: Emulator
) -> None:
    teacher = await person("teacher_a")
    emulator.inject_fault("sendMessage", "500", 4)  # the first try and three retries
    await teacher.send("/help")
    # The apology goes out once Telegram is back: the fifth sendMessage.
    await teacher.expect("出了点问题")
    assert emulator.stats()["faults"]["injected"] == {"500": 4}


async def test_two_bots_on_one_database_both_apply_their_update_number_one(
    services: Services, emulator: Emulator, world: World
) -> None:
    """Telegram numbers updates per bot: the first update of a second bot on the same database is not
    taken for the first bot's (which would drop it and show the other bot's reply). Telegram's only: a
    county runs one WeCom app, whose callbacks are kept per agent id."""
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


@pytest.mark.parametrize("channel", [TELEGRAM])  # a tap's answer (toast) on a message that keeps its buttons
async def test_a_confirmation_lost_after_the_save_comes_with_the_case_number_when_submit_is_tapped_again(
    person: PersonFactory, world: World, emulator: Emulator, services: Services
) -> None:
    teacher = await person("teacher_a")
    await report(teacher, world)
    phone = telegram(teacher)
    summary = next(m for m in reversed(phone.messages) if "✅ 提交" in str(m.get("reply_markup")))
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


@pytest.mark.parametrize("channel", [WECOM])
async def test_a_wecom_confirmation_that_could_not_be_sent_comes_once_before_the_next_answer(
    person: PersonFactory, world: World, wecom_emu: WeComEmulator, services: Services
) -> None:
    """WeCom's analogue: message/send fails until the client gives up; the report is saved once, the
    callback stays, and its kept confirmation goes out when the processor tries again: after its backoff
    (bot.wecom.claims.retry_after), or at once when the member writes again (the tests' clock stands
    still, so here it is the member's next message), and before the answer to that. A second quick tap
    on the summary card answers with the receipt and sends no second confirmation."""
    member = wecom(await person("teacher_a"))
    await report(member, world)
    summary = card_with(member, "✅ 提交")
    wecom_emu.faults.inject("message/send", "500", count=4)  # every attempt of the client
    await member.tap("✅ 提交")
    await until(lambda: wecom_emu.faults.injected["500"] == 4, "the client to give up on the confirmation")
    (number,), reports = await reports_of(services, world)
    assert reports == 1
    await member.chat.send("/help")  # a second later; not waiting for the callback above to be handled
    await until(lambda: "/mycases" in member.chat.text(), "the confirmation, then the help", 60)
    said = [words(s) for s in member.chat.since]
    confirmations = [n for n, text in enumerate(said) if "个案编号" in text]
    assert len(confirmations) == 1 and number in said[confirmations[0]]
    assert confirmations[0] < next(n for n, text in enumerate(said) if "/mycases" in text)
    assert await tap_again(member, summary, "✅ 提交") == f"已提交：个案 {number}"
    assert sum("个案编号" in words(s) for s in member.chat.member.received) == 1
    assert await reports_of(services, world) == ([number], 1)


@pytest.mark.parametrize("channel", [TELEGRAM])  # a tap's answer (toast) on a message that keeps its buttons
async def test_a_submitted_form_answers_with_its_receipt_for_three_days_then_as_ended(
    person: PersonFactory, world: World, services: Services, clock: FixedClock
) -> None:
    teacher = await person("teacher_a")
    phone = telegram(teacher)
    await teacher.send("/report")
    await teacher.expect(lambda s: bool(s.buttons))
    cancelled = next(m for m in reversed(phone.messages) if m.get("reply_markup"))
    await teacher.send("/cancel")
    await teacher.expect("已取消")
    first = cancelled["reply_markup"]["inline_keyboard"][0][0]["text"]
    ended = await tap_and_answer(phone, first, cancelled["message_id"])
    assert "已结束或已取消" in ended  # nothing was submitted: no receipt
    await report(teacher, world)
    summary = next(m for m in reversed(phone.messages) if "✅ 提交" in str(m.get("reply_markup")))
    await phone.tap("✅ 提交", message_id=summary["message_id"])
    await phone.wait_for_reply(lambda m: "个案编号" in m["text"])
    (number,), _ = await reports_of(services, world)
    assert await tap_and_answer(phone, "✅ 提交", summary["message_id"]) == f"已提交：个案 {number}"
    await receipt_is_kept(services, teacher, clock)
    clock.advance(KEEP_RECEIPT + timedelta(minutes=1))
    assert "已结束或已取消" in await tap_and_answer(phone, "✅ 提交", summary["message_id"])
    await receipt_is_pruned(services, teacher, clock)


@pytest.mark.parametrize("channel", [WECOM])
async def test_a_wecom_card_tapped_after_its_form_ended_answers_with_the_receipt_for_three_days(
    person: PersonFactory, world: World, services: Services, clock: FixedClock
) -> None:
    """WeCom greys out only the card tapped: a card of a form since cancelled stays live, and a second
    quick tap on the summary comes before its card is greyed. Each is answered as a text."""
    member = wecom(await person("teacher_a"))
    pupil = world.student_in(world.class_a)
    await member.send("/report")
    listed = await member.expect(pupil.student_number[-4:])
    cancelled = card_with(member, listed.button(pupil.student_number[-4:]))
    await member.send("/cancel")
    await member.expect("已取消")
    ended = await tap_again(member, cancelled, listed.button(pupil.student_number[-4:]))
    assert "已结束或已取消" in ended  # nothing was submitted: no receipt
    await report(member, world)
    summary = card_with(member, "✅ 提交")
    await member.tap("✅ 提交")
    await member.expect("个案编号")
    (number,), _ = await reports_of(services, world)
    assert await tap_again(member, summary, "✅ 提交") == f"已提交：个案 {number}"
    await receipt_is_kept(services, member, clock)
    clock.advance(KEEP_RECEIPT + timedelta(minutes=1))
    assert "已结束或已取消" in await tap_again(member, summary, "✅ 提交")
    assert await reports_of(services, world) == ([number], 1)
    await receipt_is_pruned(services, member, clock)


async def receipt_is_kept(services: Services, someone: Person, clock: FixedClock) -> None:
    async with services.uow() as uow:
        key = await draft_key(uow, someone.account, someone.channel)
        assert await uow.drafts.receipt(key, since=clock.now() - timedelta(days=30)) is not None


async def receipt_is_pruned(services: Services, someone: Person, clock: FixedClock) -> None:
    """Older than KEEP_RECEIPT, the receipt goes with the hourly prune (which the inbox's writer may have
    run already, once the clock moved on: it runs a second after an update was handled)."""
    async with services.uow() as uow:
        key = await draft_key(uow, someone.account, someone.channel)
        await uow.drafts.prune_receipts(clock.now() - KEEP_RECEIPT)
        await uow.commit()
        assert await uow.drafts.receipt(key, since=clock.now() - timedelta(days=30)) is None


async def test_the_same_absence_reported_twice_is_answered_with_its_case_number(
    person: PersonFactory, world: World, services: Services
) -> None:
    first, second = await person("teacher_a"), await person("subject")
    await report(first, world)
    await first.tap("✅ 提交")
    await first.expect("个案编号")
    (number,), _ = await reports_of(services, world)
    for someone in (first, second):  # the form filled in again, and by the subject teacher
        await report(someone, world)
        await someone.tap("✅ 提交")
        again = await someone.expect("已登记为个案")
        assert number in again.text and "没有重复登记" in again.text
        async with services.uow() as uow:  # the form ended
            assert await uow.drafts.get(await draft_key(uow, someone.account, someone.channel)) is None
    assert await reports_of(services, world) == ([number], 1)
    # A new absence after the pupil went back to school is recorded on the same case.
    async with services.uow() as uow:
        case = await uow.cases.latest_for_student(world.student_in(world.class_a).id)
        assert case is not None
        await change_status(uow, case, CaseStatus.RETURNED, Actor.system("test"), now=services.clock.now())
        await uow.commit()
    await report(first, world, since="2026-10-13")  # today: after the first day
    await first.tap("✅ 提交")
    await first.expect("重新开启")
    assert await reports_of(services, world) == ([number], 2)
