"""Both channels at once on one database (issue 14's "done when"): a teacher on WeCom reports an absence and
logs a home visit with a photo and a location where the family promises a return; the promise's check
reaches the village cadre on Telegram, who confirms the return there from the reminder's button; the
teacher's reminders go to WeCom only, and the cadre, bound on both channels, gets each reminder once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.container import Services
from app.scheduler import ReminderScheduler
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from sandbox.state import BotState
from storage.models import Reminder
from tests.e2e.conftest import ChannelPersonFactory
from tests.e2e.people import TELEGRAM, WECOM, Person, WeComPerson
from tests.e2e.reminding import scheduler  # noqa: F401 (a fixture)
from tests.e2e.test_visit import image
from tests.factories import World
from tests.wecom_chat import labels

TZ = ZoneInfo("Asia/Shanghai")


async def report_and_visit(teacher: Person, world: World, services: Services) -> int:
    """/report (absent since yesterday), then a home visit today with a photo and a location: the guardian
    agrees the child goes back tomorrow. Returns the case's id."""
    pupil = world.student_in(world.class_a)
    await teacher.send("/report")
    await teacher.choose(pupil.student_number[-4:])
    await teacher.choose("昨天")
    await teacher.choose("暂不清楚")
    await teacher.choose("完成")
    await teacher.choose("跳过")
    await teacher.choose("✅ 提交")
    await teacher.expect("个案编号")
    async with services.uow() as uow:
        case = await uow.cases.open_for_student(pupil.id)
    assert case is not None
    await teacher.send("/visit")
    await teacher.choose(case.number)
    await teacher.choose("今天")
    await teacher.choose("入户家访")
    await teacher.choose("完成")
    await teacher.choose("监护人")
    await teacher.choose("同意返校")
    await teacher.choose("明天")
    await teacher.expect("家访照片")
    await teacher.send_photo(image())
    await teacher.expect("1/5")
    await teacher.tap("完成")
    await teacher.expect("位置")
    await teacher.send_location(29.5630123, 106.5515567)
    await teacher.choose("跳过")  # next follow-up: the default
    await teacher.choose("跳过")  # no note
    await teacher.choose("✅ 提交")
    await teacher.expect("家访已记录")
    async with services.uow() as uow:
        [visit] = [e for e in await uow.cases.events(case.id) if e.kind == "visit_logged"]
        assert visit.data["location"] == {"lat": 29.563012, "lon": 106.551557}
        assert len(await uow.attachments.of_case(case.id)) == 1
    return case.id


async def sent_reminders(services: Services, staff_id: int) -> list[tuple[str, str | None]]:
    """(kind, the channel's id of the message) of each reminder sent to this person."""
    async with services.uow() as uow:
        rows = (await uow.session.scalars(select(Reminder).where(Reminder.recipient_id == staff_id))).all()
    return sorted((r.kind, r.sent_ref) for r in rows if r.state == "sent")


async def test_a_wecom_teacher_and_a_telegram_cadre_work_one_case_through_to_its_reminders(
    person_on: ChannelPersonFactory,
    world: World,
    services: Services,
    scheduler: ReminderScheduler,  # noqa: F811
    tg_bot: BotState,
    clock: FixedClock,
) -> None:
    teacher = await person_on(WECOM, "teacher_a")
    assert isinstance(teacher, WeComPerson)
    cadre_on_wecom = await person_on(WECOM, "cadre_a")
    assert isinstance(cadre_on_wecom, WeComPerson)
    clock.advance(timedelta(minutes=1))
    cadre = await person_on(TELEGRAM, "cadre_a")  # bound last on Telegram: reminders go there
    case_id = await report_and_visit(teacher, world, services)
    teacher_seen = len(teacher.chat.member.received)
    cadre_seen_on_wecom = len(cadre_on_wecom.chat.member.received)

    # The day after the promised one: teacher and cadre are asked whether the child came back.
    clock.set(datetime(2026, 10, 15, 9, 0, tzinfo=TZ))
    assert await scheduler.sender.drain() == 2
    assert await scheduler.sender.drain() == 0  # each reminder once
    check = await cadre.expect("✅ 确认已返校")
    assert "核实承诺返校" in check.text and "2026-10-14" in check.text
    [card] = teacher.chat.member.received[teacher_seen:]
    assert card.msgtype == "template_card" and "✅ 确认已返校" in labels(card)
    assert len(cadre_on_wecom.chat.member.received) == cadre_seen_on_wecom  # not on WeCom as well

    # The cadre confirms the return in Telegram, from the reminder's button.
    await cadre.tap("✅ 确认已返校")
    await cadre.choose("今天")
    await cadre.choose("本人在课堂上见到")
    await cadre.choose("是，原学校原班级")
    await cadre.choose("已恢复")
    await cadre.choose("完成")
    await cadre.choose("跳过")
    await cadre.choose("✅ 提交")
    await cadre.expect("已确认返校")
    async with services.uow() as uow:
        case = await uow.cases.get(case_id)
        assert case is not None and case.status == CaseStatus.RETENTION
        [confirmed] = [e for e in await uow.cases.events(case_id) if e.kind == "return_confirmed"]
    assert confirmed.actor_id == world.staff["cadre_a"].id

    # Two weeks on, the retention check goes to the teacher on WeCom, who answers it there.
    teacher_seen = len(teacher.chat.member.received)
    clock.set(datetime(2026, 10, 29, 9, 0, tzinfo=TZ))
    assert await scheduler.sender.drain() == 1
    assert await scheduler.sender.drain() == 0
    [check_card] = teacher.chat.member.received[teacher_seen:]
    assert "保学跟踪回访" in str(check_card.body) and "✅ 仍在正常上学" in labels(check_card)
    await teacher.chat.tap("✅ 仍在正常上学")
    await teacher.expect("第 1/2 次")

    # WeCom only for the teacher; Telegram carried the cadre's messages only, the cadre's reminder once.
    assert await sent_reminders(services, world.staff["teacher_a"].id) == [
        ("promise_check", card.msgid),
        ("retention_check", check_card.msgid),
    ]
    chats = {uid: [m for _, m in sorted(c.messages.items()) if m.from_bot] for uid, c in tg_bot.chats.items()}
    assert [uid for uid, said in chats.items() if said] == [int(cadre.account)]
    [on_telegram] = [m for m in chats[int(cadre.account)] if "✅ 确认已返校" in str(m.data)]
    assert await sent_reminders(services, world.staff["cadre_a"].id) == [
        ("promise_check", str(on_telegram.data["message_id"]))
    ]
    assert len(cadre_on_wecom.chat.member.received) == cadre_seen_on_wecom
