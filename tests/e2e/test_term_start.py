"""The term-start roll-call prompt over the fake Telegram server, on SQLite and PostgreSQL: planned the
night before, sent at the morning hour on the term's first school day, its button opens the roll call;
a class teacher without Telegram is named in the principal's digest instead."""

from __future__ import annotations

from datetime import datetime

from telegram import Bot
from telegram.ext import Application

from app.container import Services
from domain.reminders.digest import build_digests
from domain.reminders.planning import plan_term_start_prompts
from domain.reminders.term_start import TERM_START
from sandbox.phone import Phone
from tests.accounts import draft_key
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.test_reminders_delivery import TZ, make_sender, reminder_rows, says, sender_bot
from tests.factories import World

__all__ = ["sender_bot"]  # the fixture, shared with the reminder delivery tests
BUTTON = "📋 开学点名"


def at(services: Services, moment: datetime) -> None:
    services.clock.set(moment)  # type: ignore[attr-defined]


async def plan(services: Services) -> None:
    async with services.uow() as uow:
        await plan_term_start_prompts(uow, policy=services.policy, now=services.clock.now(), tz=TZ)
        await uow.commit()


def checklist(m: dict) -> bool:  # type: ignore[type-arg]
    return "完成" in buttons(m) and "未到校" in m["text"]


async def open_roll_call(phone: Phone, prompt: dict) -> dict:  # type: ignore[type-arg]
    await phone.tap(BUTTON, message_id=prompt["message_id"])
    return await phone.wait_for_reply(checklist)


async def test_class_teacher_is_prompted_on_the_first_school_day_and_the_button_opens_the_roll_call(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    sender_bot: Bot,
) -> None:
    at(services, datetime(2026, 8, 31, 20, 0, tzinfo=TZ))  # the evening before term
    teacher = await bound("teacher_a")
    principal = await bound("principal")
    at(services, datetime(2026, 9, 1, 0, 5, tzinfo=TZ))  # the daily planning run
    await plan(services)
    sender = make_sender(services, sender_bot)
    assert await sender.drain() == 0  # not before the morning hour (and never in quiet hours)
    at(services, datetime(2026, 9, 1, 9, 0, tzinfo=TZ))
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 0
    assert await sender.drain() == 1  # teacher_a; teacher_b has no Telegram: unreachable, see below
    prompt = await teacher.wait_for_reply(says("新学期开学"))
    assert buttons(prompt) == [BUTTON] and "2026-09-03" in prompt["text"]
    assert prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("go:rollcall:")
    ask = await open_roll_call(teacher, prompt)  # one class: straight to the checklist, as /rollcall
    assert "0/4" in ask["text"]
    await teacher.tap("完成")
    await teacher.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    await teacher.tap("✅ 提交")
    await teacher.wait_for_reply(says("全班到齐"))

    # Planned again later the same day (a restart) and the next day: never sent twice.
    at(services, datetime(2026, 9, 2, 0, 5, tzinfo=TZ))
    await plan(services)
    at(services, datetime(2026, 9, 2, 9, 0, tzinfo=TZ))
    mine = await reminder_rows(services, kind=TERM_START, recipient_id=world.staff["teacher_a"].id)
    assert [r.state for r in mine] == ["sent"]

    # The class teacher without Telegram: unreachable, and the principal is told in the next digest.
    [unbound] = await reminder_rows(services, kind=TERM_START, recipient_id=world.staff["teacher_b"].id)
    assert unbound.state == "unreachable" and unbound.last_error == "no_channel_account"
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await sender.drain() == 1
    digest = await principal.wait_for_reply(says("开学点名"))
    assert "李老师 无法通过 Telegram 或企业微信联系" in digest["text"]

    # After the window the old button does what /rollcall does: it says the roll call is closed.
    at(services, datetime(2026, 9, 10, 10, 0, tzinfo=TZ))
    await teacher.tap(BUTTON, message_id=prompt["message_id"])
    await teacher.wait_for_reply(says("现在不在点名期间"))
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, teacher.user_id)) is None
