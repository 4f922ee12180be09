"""送教上门 end to end, on SQLite and PostgreSQL, over the fake Telegram server with the clock moved week by
week: the plan's cadence drives the teacher's reminders, a session logged in chat stops the reminder of
its period, a period that ends short reaches the principal's digest, and the ledger shows held vs planned."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from telegram import Bot
from telegram.ext import Application

from app.container import Services
from domain.audit import Actor
from domain.home_teaching.ledger import ledger_rows
from domain.home_teaching.plans import PlanInput, save_plan
from domain.home_teaching.reminders import replan_home_teaching
from domain.people.scope import scope_for
from domain.privacy.identity import mask_name
from domain.reminders.digest import build_digests
from domain.reminders.rules import HOME_TEACHING_DUE
from sandbox.emulator import Emulator
from sandbox.phone import Phone
from sandbox.state import BotState
from storage.models import AuditEntry, HomeTeachingPlan, HomeTeachingSession, Reminder
from tests.e2e.conftest import BindFactory, buttons
from tests.e2e.test_reminders_delivery import bind_directly, make_sender, received, sender_bot  # noqa: F401 (fixture)
from tests.factories import World

TZ = ZoneInfo("Asia/Shanghai")
LOG = "📚 记录送教"


async def make_plan(services: Services, world: World, **kw: object) -> HomeTeachingPlan:
    """Weekly, once a week, from Monday 12 October 2026, taught by teacher A; made by the principal."""
    principal = world.staff["principal"]
    fields: dict[str, object] = {
        "student_id": world.student_in(world.class_a).id,
        "teacher_ids": [world.staff["teacher_a"].id],
        "cadence": "week",
        "sessions_per_period": 1,
        "minutes_per_session": 60,
        "content_areas": "生活自理、语文识字",
        "starts_on": date(2026, 10, 12),
        "review_on": date(2027, 1, 15),
        "assessment_ref": "县残评〔2026〕7号",
        **kw,
    }
    async with services.uow() as uow:
        staff = await uow.directory.staff(principal.id)
        assert staff is not None
        plan = await save_plan(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            staff.role,
            PlanInput(**fields),  # type: ignore[arg-type]
            now=services.clock.now(),
        )
        await uow.commit()
    return plan


async def tick(services: Services, bot: Bot, at: datetime) -> int:
    """What the scheduler does on a tick, at `at`: plan, build today's digests, send what is due."""
    services.clock.set(at)  # type: ignore[attr-defined]
    await replan_home_teaching(services.uow, services.policy, at, TZ)
    await build_digests(services.uow, now=at, policy=services.policy, tz=TZ)
    return await make_sender(services, bot).drain()


async def log_in_chat(phone: Phone, *, from_button: dict | None = None, photo: bool = False) -> dict:  # type: ignore[type-arg]
    """Fills in /homeschool (or the reminder's button): today, 60 minutes, content, state, no note, and
    a photo if asked for."""
    if from_button is not None:
        await phone.tap(LOG, message_id=from_button["message_id"])
    else:
        await phone.send("/homeschool")
        ask = await phone.wait_for_reply(lambda m: "选择学生" in m["text"])
        await phone.tap(buttons(ask)[0])
    await phone.wait_for_reply(lambda m: "今天" in buttons(m))
    await phone.tap("今天")
    await phone.wait_for_reply(lambda m: "60 分钟" in buttons(m))
    await phone.tap("60 分钟")
    await phone.wait_for_reply(lambda m: "教了什么" in m["text"])
    await phone.send("生活自理：洗手、穿衣")
    await phone.wait_for_reply(lambda m: "状态良好" in buttons(m))
    await phone.tap("状态良好")
    await phone.wait_for_reply(lambda m: "需要说明" in m["text"])
    await phone.tap("跳过")
    await phone.wait_for_reply(lambda m: "照片" in m["text"])
    if photo:
        await phone.send_photo()
        await phone.wait_for_reply(lambda m: "完成" in buttons(m))
        await phone.tap("完成")
    else:
        await phone.tap("跳过")
    summary = await phone.wait_for_reply(lambda m: "✅ 提交" in buttons(m))
    assert "生活自理：洗手、穿衣" in summary["text"] and "60" in summary["text"]
    await phone.tap("✅ 提交")
    return await phone.wait_for_reply(lambda m: "已记录送教上门" in m["text"])


async def test_a_plan_drives_reminders_escalation_and_ledger_over_weeks(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
    sender_bot: Bot,  # noqa: F811
) -> None:
    teacher = await bound("teacher_a")
    principal_chat = await bind_directly(services, emulator, tg_bot, world.staff["principal"].id)
    plan = await make_plan(services, world)
    pupil = world.student_in(world.class_a)

    # Week 1 (12–18 Oct): nothing on Tuesday; reminded on Thursday; the session logged from the button.
    assert await tick(services, sender_bot, datetime(2026, 10, 13, 10, 0, tzinfo=TZ)) == 0
    assert await tick(services, sender_bot, datetime(2026, 10, 15, 10, 0, tzinfo=TZ)) == 1
    reminder = await teacher.wait_for_reply(lambda m: "送教上门提醒" in m["text"])
    assert mask_name(pupil.name) in reminder["text"] and pupil.name not in reminder["text"]
    assert LOG in buttons(reminder)
    assert "2026-10-15" in (await log_in_chat(teacher, from_button=reminder))["text"]

    # Week 2: logged on Tuesday with /homeschool, so Thursday brings no reminder; Monday no escalation.
    assert await tick(services, sender_bot, datetime(2026, 10, 19, 9, 30, tzinfo=TZ)) == 0
    services.clock.set(datetime(2026, 10, 20, 16, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    await log_in_chat(teacher)
    assert await tick(services, sender_bot, datetime(2026, 10, 22, 10, 0, tzinfo=TZ)) == 0
    assert await tick(services, sender_bot, datetime(2026, 10, 26, 9, 30, tzinfo=TZ)) == 0
    assert received(emulator, tg_bot, principal_chat) == []

    # Week 3: no session. Thursday reminds the teacher; the next Monday's digest tells the principal.
    assert await tick(services, sender_bot, datetime(2026, 10, 29, 10, 0, tzinfo=TZ)) == 1
    await teacher.wait_for_reply(
        lambda m: "送教上门提醒" in m["text"] and m["message_id"] > reminder["message_id"]
    )
    assert await tick(services, sender_bot, datetime(2026, 11, 2, 9, 30, tzinfo=TZ)) == 1
    digest = received(emulator, tg_bot, principal_chat)
    assert len(digest) == 1 and "未达计划" in digest[0]["text"]
    assert mask_name(pupil.name) in digest[0]["text"] and "2026-10-26 至 2026-11-01" in digest[0]["text"]

    async with services.uow() as uow:
        rows = list(
            (await uow.session.scalars(select(Reminder).where(Reminder.kind == HOME_TEACHING_DUE))).all()
        )
        sessions = (await uow.session.scalars(select(HomeTeachingSession))).all()
        audited = (await uow.session.scalars(select(AuditEntry.entity))).all()
        ledger = await ledger_rows(
            uow, await scope_for(uow, world.staff["principal"]), as_of=date(2026, 11, 2)
        )
    # Week 2's reminder was planned, then cancelled by the session logged before it fell due.
    assert sorted(r.state for r in rows) == ["cancelled", "pending", "sent", "sent"]
    assert [s.held_on for s in sessions] == [date(2026, 10, 15), date(2026, 10, 20)]
    assert audited.count("home_teaching_session") == 2 and "home_teaching_plan" in audited
    assert [(r.plan_id, r.planned, r.held, r.last_session) for r in ledger] == [
        (plan.id, 3, 2, date(2026, 10, 20))
    ]


async def test_a_teacher_not_on_the_plan_sees_no_pupil_and_a_forged_button_is_refused(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
) -> None:
    plan = await make_plan(services, world)
    other = await bound("teacher_b")
    await other.send("/homeschool")
    assert "没有参与的送教上门计划" in (await other.wait_for_reply(lambda m: "送教" in m["text"]))["text"]
    await other.send("/cancel")
    await other.send(f"/homeschool {plan.id}")
    refused = await other.wait_for_reply(lambda m: "不在您的名下" in m["text"])
    assert "已停用" in refused["text"]
    async with services.uow() as uow:
        denied = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "denied"))).all()
        assert any(e.entity == "home_teaching_plan" for e in denied)
        assert (await uow.session.scalars(select(HomeTeachingSession))).all() == []


async def test_an_unreachable_teachers_reminder_goes_to_the_principals_digest_and_a_photo_is_kept(
    polling_bot: Application,  # type: ignore[type-arg]
    bound: BindFactory,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
    sender_bot: Bot,  # noqa: F811
) -> None:
    principal_chat = await bind_directly(services, emulator, tg_bot, world.staff["principal"].id)
    plan = await make_plan(services, world)
    # Teacher A never linked Telegram: Thursday's reminder is rerouted to the principal's next digest.
    await tick(services, sender_bot, datetime(2026, 10, 15, 10, 0, tzinfo=TZ))
    await tick(services, sender_bot, datetime(2026, 10, 15, 10, 5, tzinfo=TZ))
    [digest] = received(emulator, tg_bot, principal_chat)
    assert "📚 送教上门" in digest["text"] and "王老师" in digest["text"] and "计划 1 次" in digest["text"]
    # Once linked, the teacher logs a session with a photo: stored without a case, named by the session.
    teacher = await bound("teacher_a")
    services.clock.set(datetime(2026, 10, 16, 15, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    await log_in_chat(teacher, photo=True)
    async with services.uow() as uow:
        [logged] = (await uow.session.scalars(select(HomeTeachingSession))).all()
        [photo] = await uow.attachments.by_ids(logged.photo_ids)
    assert (
        logged.plan_id == plan.id
        and photo.case_id is None
        and photo.uploaded_by_id == world.staff["teacher_a"].id
    )
