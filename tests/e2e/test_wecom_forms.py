"""WeCom end to end, on SQLite and PostgreSQL: a teacher binds their WeCom account with an invite code and
reports an absence, logs a home visit with a photo and a location, and confirms the return, all as a
simulated member of the WeCom emulator whose signed, encrypted callbacks reach the real /wecom/callback
over HTTP; bad inputs are re-asked and change nothing, a redelivered callback changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from telegram import Bot

from app.container import Services, build_services
from app.scheduler import ReminderScheduler
from app.settings import Settings, load_settings
from bot.conversations.catalogue import FORMS
from bot.conversations.engine import Conversations, Outcome
from bot.conversations.model import FormContext, Input, Text
from bot.wecom import inbound
from bot.wecom.api import App, WeComClient
from bot.wecom.inbound import CHANNEL, pending
from bot.wecom.processor import WeComProcessor
from bot.wecom.tokens import DatabaseTokenStore
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from domain.people.invites import redeem_invite
from sandbox.wecom import WeComEmulator
from sandbox.wecom.members import post_callback
from tests.e2e.conftest import invite_code, wecom_settings
from tests.e2e.test_visit import image
from tests.factories import World
from tests.integration.test_reminders import report
from tests.unit.test_wecom_crypto import CORP_ID
from tests.waiting import tasks_shown_after, until
from tests.wecom_chat import Chat, labels
from web.wecom import processor_from

AGENT_ID = 1000002
USERID = "zhangsan"


@pytest.fixture
def emu(wecom_emu: WeComEmulator) -> WeComEmulator:
    return wecom_emu


@pytest.fixture
def server(wecom_server: str) -> str:
    """The product's web process with WeCom configured against the emulator; its callback connected."""
    return wecom_server


@pytest.fixture
def chat(emu: WeComEmulator, clock: FixedClock, server: str, services: Services) -> Chat:
    return Chat(
        emu.add_member(USERID), lambda: clock.advance(timedelta(seconds=1)), lambda: handled_all(services)
    )


async def draft_step(services: Services) -> tuple[str, int] | None:
    async with services.uow() as uow:
        account = await uow.directory.account(CHANNEL, USERID)
        draft = await uow.drafts.get(account.id) if account is not None else None
        return (draft.step, draft.seq) if draft is not None else None


async def handled_all(services: Services, timeout: float = 10.0) -> None:
    """Waits until the processor has handled (and forgotten) every stored callback."""
    for _ in range(int(timeout / 0.05)):
        async with services.uow() as uow:
            if not await pending(uow, AGENT_ID):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("callbacks left unhandled in the inbox")


async def test_a_teacher_on_wecom_reports_visits_and_confirms_a_return(
    chat: Chat, services: Services, world: World, emu: WeComEmulator, server: str
) -> None:
    teacher, pupil = world.staff["teacher_a"], world.student_in(world.class_a)

    # Binding: a greeting says how; the invite code binds the member's userid.
    await chat.send("你好")
    await chat.wait_for("邀请码")
    await chat.send(await invite_code(services, teacher.id))
    await chat.wait_for("绑定成功")
    async with services.uow() as uow:
        account = await uow.directory.account(CHANNEL, USERID)
        assert account is not None and account.staff_id == teacher.id

    # Report the absence: the command without its slash; a future date is refused and changes nothing.
    await chat.send("report")
    await chat.wait_for(pupil.student_number[-4:])
    await chat.tap(next(b for b in _labels(chat) if pupil.student_number[-4:] in b))
    await chat.wait_for("今天")
    before = await draft_step(services)
    await chat.send("2099-01-01")
    await chat.wait_for("不能晚于今天")
    assert await draft_step(services) == before
    await chat.tap("昨天")
    await chat.wait_for("暂不清楚")
    await chat.tap("暂不清楚")
    await chat.wait_for("完成")
    await chat.tap("完成")
    await chat.wait_for("跳过")
    await chat.tap("跳过")
    await chat.wait_for("✅ 提交")
    await chat.tap("✅ 提交")
    await chat.wait_for("个案编号")
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
    assert case is not None
    assert emu.state.card_updates, "a tapped card is updated so it reads as answered"

    # The home visit: a voice message and a non-image file are refused; a photo and a location are kept.
    await chat.send("/visit")
    await chat.wait_for(case.number)
    await chat.tap(next(b for b in _labels(chat) if case.number in b))
    await chat.wait_for("今天")
    await chat.tap("今天")
    await chat.wait_for("入户家访")
    await chat.tap("入户家访")
    await chat.wait_for("完成")
    await chat.tap("完成")
    await chat.wait_for("监护人")
    await chat.tap("监护人")
    await chat.wait_for("联系不上")
    await chat.tap("联系不上")
    await chat.wait_for("家访照片")
    before = await draft_step(services)
    await chat.send_voice()
    await chat.wait_for("照片")
    await chat.send_image(b"%PDF-1.4 not a photo", "application/pdf")
    await chat.wait_for("图片")
    assert await draft_step(services) == before
    await chat.send_image(image("JPEG"))
    await chat.wait_for("已收到 1/5")
    await chat.tap("完成")
    await chat.wait_for("位置")
    await chat.send_location(29.5630123, 106.5515567, "石牌村")
    await chat.wait_for("下次跟进")
    await chat.tap("跳过")
    await chat.wait_for("补充")
    await chat.tap("跳过")
    await chat.wait_for("✅ 提交")
    await chat.tap("✅ 提交")
    await chat.wait_for("家访已记录")
    async with services.uow() as uow:
        visit = [e for e in await uow.cases.events(case.id) if e.kind == "visit_logged"][-1]
        assert visit.data["location"] == {"lat": 29.563012, "lon": 106.551557}
        assert len(await uow.attachments.of_case(case.id)) == 1

    # The return.
    await chat.send("/return")
    await chat.wait_for(case.number)
    await chat.tap(next(b for b in _labels(chat) if case.number in b))
    await chat.wait_for("今天")
    await chat.tap("昨天")
    await chat.wait_for("本人在课堂上见到")
    await chat.tap("本人在课堂上见到")
    await chat.wait_for("是，原学校原班级")
    await chat.tap("是，原学校原班级")
    await chat.wait_for("尚未恢复")
    await chat.tap("已恢复")
    await chat.wait_for("保学措施")
    await chat.tap("完成")
    await chat.wait_for("照片")
    await chat.tap("跳过")
    await chat.wait_for("✅ 提交")
    submit = await chat.tap("✅ 提交")
    await chat.wait_for("已确认返校")
    async with services.uow() as uow:
        returned = await uow.cases.get(case.id)
        assert returned is not None and returned.status == CaseStatus.RETENTION
        events = [e.kind for e in await uow.cases.events(case.id)]

    # WeCom delivering the submit tap and a text again (same MsgId / event) changes nothing.
    await handled_all(services)
    for delivery in (submit, chat.deliveries[0]):
        again = await post_callback(emu, f"{server}/wecom/callback", delivery.xml)
        assert again.delivered
    await handled_all(services)
    async with services.uow() as uow:
        assert [e.kind for e in await uow.cases.events(case.id)] == events
        assert len(await uow.attachments.of_case(case.id)) == 1


def _labels(chat: Chat) -> list[str]:
    return [b for s in chat.since for b in labels(s)]


async def test_callbacks_a_killed_process_left_are_answered_at_start_up(
    services: Services, database_url: str, tmp_path: Path, clock: FixedClock, emu: WeComEmulator
) -> None:
    member = emu.add_member(USERID)
    fields = {
        "ToUserName": CORP_ID,
        "FromUserName": USERID,
        "CreateTime": str(int(clock.now().timestamp())),
        "MsgType": "text",
        "Content": "你好",
        "MsgId": "4242",
        "AgentID": str(AGENT_ID),
    }
    async with services.uow() as uow:  # stored and acknowledged, then the process was killed
        await inbound.keep(uow, fields, clock.now(), AGENT_ID)
        await uow.commit()
    wecom = wecom_settings(emu)
    settings = Settings(database_url=database_url, media_dir=tmp_path, _env_file=None, **wecom)  # type: ignore[call-arg, arg-type]
    processor = processor_from(settings, services)
    assert processor is not None
    # It once hung past pytest-timeout's 300 s with the event loop idle: if it does again, show on what.
    with tasks_shown_after(120):
        await processor.start()
        try:
            await until(
                lambda: any("邀请码" in s.text for s in member.received), "the answer to the kept message"
            )
            await handled_all(services)
        finally:
            await processor.stop()
            await processor.client.aclose()


@pytest.fixture
async def sending(database_url: str, clock: FixedClock, emu: WeComEmulator) -> AsyncIterator[Services]:
    """The scheduler's services of a county on WeCom: its reminders go to the emulator's members."""
    settings = load_settings(database_url=database_url, **wecom_settings(emu))
    built = build_services(settings, clock)
    yield built
    await built.close()


async def test_a_reminder_button_tapped_on_wecom_is_applied_once(
    chat: Chat,
    services: Services,
    sending: Services,
    world: World,
    clock: FixedClock,
    server: str,
    emu: WeComEmulator,
) -> None:
    """A teacher bound on WeCom gets the first-visit reminder as a card and taps "remind me tomorrow": the
    tap comes back through /wecom/callback and postpones the reminder; the same tap delivered again
    answers the same and postpones nothing more."""
    teacher = world.staff["teacher_a"]
    await chat.send(await invite_code(services, teacher.id))
    await chat.wait_for("绑定成功")
    case = await report(services.uow, world, clock, services.policy)
    clock.advance(timedelta(days=3))
    scheduler = ReminderScheduler(sending, Bot("1:unused"))  # Telegram is configured but nobody is on it
    try:
        chat.mark = len(chat.member.received)
        assert await scheduler.sender.drain() == 1
        tap = await chat.tap("⏰")  # on the reminder's card, which names the case
        assert any(case.number in str(m.body) for m in chat.member.received)
        await chat.wait_for("再提醒您")
        await handled_all(services)
        async with services.uow() as uow:
            snoozed = [e for e in await uow.cases.events(case.id) if e.kind == "reminder_snoozed"]
        assert len(snoozed) == 1
        again = await post_callback(emu, f"{server}/wecom/callback", tap.xml)
        assert again.delivered
        await handled_all(services)
        async with services.uow() as uow:
            assert len([e for e in await uow.cases.events(case.id) if e.kind == "reminder_snoozed"]) == 1
    finally:
        await scheduler.stop()


async def test_mycases_and_language_on_wecom(
    chat: Chat, services: Services, world: World, clock: FixedClock, server: str, emu: WeComEmulator
) -> None:
    """/mycases lists the teacher's open case with a button that opens the visit form on it; /language
    switches the person to English, on every channel (one stored choice); a redelivered tap changes
    nothing."""
    teacher = world.staff["teacher_a"]
    await chat.send(await invite_code(services, teacher.id))
    await chat.wait_for("绑定成功")
    case = await report(services.uow, world, clock, services.policy)

    await chat.send("mycases")
    await chat.wait_for(case.number)
    await chat.tap("1. 记录家访")
    await chat.wait_for("今天")  # the visit form, already on this case: it asks the date first
    async with services.uow() as uow:
        account = await uow.directory.account(CHANNEL, USERID)
        draft = await uow.drafts.get(account.id) if account is not None else None
        assert draft is not None and draft.form == "visit" and int(draft.answers["case"]) == case.id
    await chat.send("/cancel")
    await chat.wait_for("取消")

    await chat.send("/language")
    choice = await chat.tap("English")
    await chat.wait_for("Language set to English.")
    async with services.uow() as uow:
        staff = await uow.directory.staff(teacher.id)
        assert staff is not None and staff.language == "en"
        views = [e for e in await uow.audit.entries("view") if e.entity == "case_list"]
    assert len(views) == 1
    again = await post_callback(emu, f"{server}/wecom/callback", choice.xml)
    assert again.delivered
    await handled_all(services)
    await chat.send("mycases")
    await chat.wait_for("1. Record visit")


class Crashing(Conversations):
    """The forms, except that the text "崩溃" raises (a bug somewhere below the processor)."""

    async def handle(self, ctx: FormContext, conversation: int, given: Input) -> Outcome:
        if isinstance(given, Text) and given.text == "崩溃":
            raise RuntimeError("a bug")
        return await super().handle(ctx, conversation, given)


async def test_a_callback_that_crashes_is_apologised_for_and_blocks_nobody(
    services: Services, world: World, clock: FixedClock, emu: WeComEmulator, database_url: str, tmp_path: Path
) -> None:
    """One member's message that crashes the processor gets the generic apology and leaves the inbox;
    their next message and another member's are answered in the same drain."""
    first, second = emu.add_member("first"), emu.add_member("second")
    codes = {
        u: await invite_code(services, world.staff[s].id)
        for u, s in (("first", "teacher_a"), ("second", "teacher_b"))
    }
    async with services.uow() as uow:
        for userid, code in codes.items():
            await redeem_invite(
                uow, code, channel=CHANNEL, account=userid, conversation=userid, reported_language=None,
                now=clock.now(),
            )  # fmt: skip
        for number, (userid, content) in enumerate(
            (("first", "崩溃"), ("first", "/help"), ("second", "/help"))
        ):
            fields = {
                "ToUserName": CORP_ID, "FromUserName": userid, "CreateTime": str(int(clock.now().timestamp()) + number),
                "MsgType": "text", "Content": content, "MsgId": str(5000 + number), "AgentID": str(AGENT_ID),
            }  # fmt: skip
            await inbound.keep(uow, fields, clock.now(), AGENT_ID)
        await uow.commit()
    client = WeComClient(
        App(CORP_ID, AGENT_ID, emu.state.secret),
        base_url=emu.api_base_url,
        tokens=DatabaseTokenStore(services.uow),
        clock=services.clock,
    )
    processor = WeComProcessor(services, client, Crashing(FORMS), AGENT_ID)
    try:
        assert await processor.drain() == 3
    finally:
        await client.aclose()
    async with services.uow() as uow:
        assert not await pending(uow, AGENT_ID)
    assert first.received[0].text == "抱歉，刚才出了点问题，您的数据没有丢失。请稍后再试。"
    assert len(first.received) == 2 and len(second.received) == 1  # the apology, then both answers
