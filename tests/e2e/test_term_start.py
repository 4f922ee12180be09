"""The term-start roll-call prompt, on Telegram and on WeCom, on SQLite and PostgreSQL: planned the night
before, sent at the morning hour on the term's first school day, its button opens the roll call; a class
teacher the app cannot reach is named in the principal's digest instead."""

from __future__ import annotations

from datetime import datetime

from telegram import Bot

from app.container import Services
from bot.wecom.api import WeComClient
from domain.reminders.digest import build_digests
from domain.reminders.planning import plan_term_start_prompts
from domain.reminders.term_start import TERM_START
from tests.accounts import draft_key
from tests.e2e.conftest import PersonFactory
from tests.e2e.people import Said
from tests.e2e.recipients import InboxOf, inbox, services, tap_on, wecom_client
from tests.e2e.test_reminders_delivery import TZ, make_sender, reminder_rows, sender_bot
from tests.factories import World

__all__ = ["inbox", "sender_bot", "services", "wecom_client"]  # fixtures, shared with the delivery tests
BUTTON = "📋 开学点名"


def at(services: Services, moment: datetime) -> None:
    services.clock.set(moment)  # type: ignore[attr-defined]


async def plan(services: Services) -> None:
    async with services.uow() as uow:
        await plan_term_start_prompts(uow, policy=services.policy, now=services.clock.now(), tz=TZ)
        await uow.commit()


def checklist(s: Said) -> bool:
    return "完成" in s.buttons and "未到校" in s.text


async def test_class_teacher_is_prompted_on_the_first_school_day_and_the_button_opens_the_roll_call(
    person: PersonFactory,
    inbox: InboxOf,
    world: World,
    services: Services,
    sender_bot: Bot,
    wecom_client: WeComClient,
) -> None:
    at(services, datetime(2026, 8, 31, 20, 0, tzinfo=TZ))  # the evening before term
    teacher = await person("teacher_a")
    principal = await person("principal")
    at(services, datetime(2026, 9, 1, 0, 5, tzinfo=TZ))  # the daily planning run
    await plan(services)
    sender = make_sender(services, sender_bot, wecom=wecom_client)
    assert await sender.drain() == 0  # not before the morning hour (and never in quiet hours)
    at(services, datetime(2026, 9, 1, 9, 0, tzinfo=TZ))
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 0
    assert await sender.drain() == 1  # teacher_a; teacher_b is bound nowhere: unreachable, see below
    prompt = await teacher.expect("新学期开学")
    assert prompt.buttons == [BUTTON] and "2026-09-03" in prompt.text
    [sent] = [m for m in inbox(teacher).messages() if "新学期开学" in m.text]
    assert sent.actions[0].startswith("go:rollcall:")
    await teacher.tap(BUTTON)
    ask = await teacher.expect(checklist)  # one class: straight to the checklist, as /rollcall
    assert "0/4" in ask.text
    await teacher.tap("完成")
    await teacher.expect(lambda s: "✅ 提交" in s.buttons)
    await teacher.tap("✅ 提交")
    await teacher.expect("全班到齐")

    # Planned again later the same day (a restart) and the next day: never sent twice.
    at(services, datetime(2026, 9, 2, 0, 5, tzinfo=TZ))
    await plan(services)
    at(services, datetime(2026, 9, 2, 9, 0, tzinfo=TZ))
    assert await sender.drain() == 0
    mine = await reminder_rows(services, kind=TERM_START, recipient_id=world.staff["teacher_a"].id)
    assert [r.state for r in mine] == ["sent"]

    # The class teacher bound on no channel: unreachable, and the principal is told in the next digest.
    [unbound] = await reminder_rows(services, kind=TERM_START, recipient_id=world.staff["teacher_b"].id)
    assert unbound.state == "unreachable" and unbound.last_error == "no_channel_account"
    assert await build_digests(services.uow, now=services.clock.now(), policy=services.policy, tz=TZ) == 1
    assert await sender.drain() == 1
    digest = await principal.expect("开学点名")
    assert "李老师 无法通过 Telegram 或企业微信联系" in digest.text
    assert sum("新学期开学" in m.text for m in inbox(teacher).messages()) == 1

    # After the window the old button does what /rollcall does: it says the roll call is closed. (WeCom
    # greys a tapped card out; the emulator keeps its button, as on a prompt not tapped in the window.)
    at(services, datetime(2026, 9, 10, 10, 0, tzinfo=TZ))
    await tap_on(teacher, sent.ref, BUTTON)
    await teacher.expect("现在不在点名期间")
    async with services.uow() as uow:
        assert await uow.drafts.get(await draft_key(uow, teacher.account, teacher.channel)) is None
