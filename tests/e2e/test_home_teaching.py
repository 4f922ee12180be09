"""送教上门 end to end, on SQLite and PostgreSQL, on Telegram and WeCom (each against its emulator) with the
clock moved week by week: the plan's cadence drives the teacher's reminders, a session logged in chat stops the reminder of
its period, a period that ends short reaches the principal's digest, and the ledger shows held vs planned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.container import Services
from app.scheduler import ReminderScheduler
from domain.audit import Actor
from domain.home_teaching.ledger import ledger_rows
from domain.home_teaching.plans import PlanInput, save_plan
from domain.home_teaching.reminders import replan_home_teaching
from domain.people.scope import scope_for
from domain.privacy.identity import mask_name
from domain.reminders.digest import build_digests
from domain.reminders.rules import HOME_TEACHING_DUE
from sandbox.emulator import Emulator
from sandbox.state import BotState
from sandbox.wecom import WeComEmulator
from storage.models import AuditEntry, HomeTeachingPlan, HomeTeachingSession, Reminder
from tests.e2e.conftest import PersonFactory
from tests.e2e.people import TELEGRAM, Person
from tests.e2e.reminding import scheduler
from tests.e2e.test_reminders_delivery import bind_directly, received
from tests.e2e.test_reminders_wecom import bind_wecom
from tests.e2e.test_visit import image
from tests.factories import World
from tests.wecom_chat import words

__all__ = ["scheduler"]  # the fixture, shared with the other reminder journeys

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


async def tick(services: Services, scheduler: ReminderScheduler, at: datetime) -> int:
    """What the scheduler does on a tick, at `at`: plan, build today's digests, send what is due."""
    services.clock.set(at)  # type: ignore[attr-defined]
    await replan_home_teaching(services.uow, services.policy, at, TZ)
    await build_digests(services.uow, now=at, policy=services.policy, tz=TZ)
    return await scheduler.sender.drain()


async def principal_inbox(
    channel: str,
    services: Services,
    world: World,
    emulator: Emulator,
    tg_bot: BotState,
    wecom_emu: WeComEmulator,
) -> Callable[[], list[str]]:
    """The principal bound on the test's channel without a conversation (fast setup); what the app has
    sent them since, message by message."""
    staff_id = world.staff["principal"].id
    if channel == TELEGRAM:
        chat = await bind_directly(services, emulator, tg_bot, staff_id)
        return lambda: [str(m.get("text", "")) for m in received(emulator, tg_bot, chat)]
    await bind_wecom(services, wecom_emu, staff_id, "principal-li")
    return lambda: [words(s) for s in wecom_emu.member("principal-li").received]


async def log_in_chat(who: Person, *, from_reminder: bool = False, photo: bool = False) -> str:
    """Fills in /homeschool (or the reminder's button): today, 60 minutes, content, state, no note, and
    a photo if asked for; returns what the app said at the end."""
    if from_reminder:
        await who.tap(LOG)
    else:
        await who.send("/homeschool")
        ask = await who.expect("选择学生")
        await who.tap(ask.buttons[0])
    await who.choose("今天")
    await who.choose("60 分钟")
    await who.expect("教了什么")
    await who.send("生活自理：洗手、穿衣")
    await who.choose("状态良好")
    await who.expect("需要说明")
    await who.tap("跳过")
    await who.expect("照片")
    if photo:
        await who.send_photo(image())
        await who.choose("完成")
    else:
        await who.tap("跳过")
    summary = await who.expect("✅ 提交")
    assert "生活自理：洗手、穿衣" in summary.text and "60" in summary.text
    await who.tap("✅ 提交")
    return (await who.expect("已记录送教上门")).text


async def test_a_plan_drives_reminders_escalation_and_ledger_over_weeks(
    person: PersonFactory,
    channel: str,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
    wecom_emu: WeComEmulator,
    scheduler: ReminderScheduler,
) -> None:
    teacher = await person("teacher_a")
    principal_got = await principal_inbox(channel, services, world, emulator, tg_bot, wecom_emu)
    plan = await make_plan(services, world)
    pupil = world.student_in(world.class_a)

    # Week 1 (12–18 Oct): nothing on Tuesday; reminded on Thursday; the session logged from the button.
    assert await tick(services, scheduler, datetime(2026, 10, 13, 10, 0, tzinfo=TZ)) == 0
    assert await tick(services, scheduler, datetime(2026, 10, 15, 10, 0, tzinfo=TZ)) == 1
    reminder = await teacher.expect("送教上门提醒")
    assert mask_name(pupil.name) in reminder.text and pupil.name not in reminder.text
    assert LOG in reminder.buttons
    assert "2026-10-15" in await log_in_chat(teacher, from_reminder=True)

    # Week 2: logged on Tuesday with /homeschool, so Thursday brings no reminder; Monday no escalation.
    assert await tick(services, scheduler, datetime(2026, 10, 19, 9, 30, tzinfo=TZ)) == 0
    services.clock.set(datetime(2026, 10, 20, 16, 0, tzinfo=TZ))  # type: ignore[attr-defined]
    await log_in_chat(teacher)
    assert await tick(services, scheduler, datetime(2026, 10, 22, 10, 0, tzinfo=TZ)) == 0
    assert await tick(services, scheduler, datetime(2026, 10, 26, 9, 30, tzinfo=TZ)) == 0
    assert principal_got() == []

    # Week 3: no session. Thursday reminds the teacher; the next Monday's digest tells the principal.
    assert await tick(services, scheduler, datetime(2026, 10, 29, 10, 0, tzinfo=TZ)) == 1
    await teacher.expect("送教上门提醒")  # a new one: what the app said since the last session logged
    assert await tick(services, scheduler, datetime(2026, 11, 2, 9, 30, tzinfo=TZ)) == 1
    [digest] = principal_got()
    assert "未达计划" in digest
    assert mask_name(pupil.name) in digest and "2026-10-26 至 2026-11-01" in digest

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


async def test_a_teacher_not_on_the_plan_sees_no_pupil_and_a_typed_plan_is_refused(
    person: PersonFactory, world: World, services: Services
) -> None:
    plan = await make_plan(services, world)
    other = await person("teacher_b")
    await other.send("/homeschool")
    await other.expect("没有参与的送教上门计划")
    await other.send("/cancel")
    await other.send(f"/homeschool {plan.id}")
    refused = await other.expect("不在您的名下")
    assert "已停用" in refused.text
    async with services.uow() as uow:
        denied = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "denied"))).all()
        assert any(e.entity == "home_teaching_plan" for e in denied)
        assert (await uow.session.scalars(select(HomeTeachingSession))).all() == []


async def test_an_unreachable_teachers_reminder_goes_to_the_principals_digest_and_a_photo_is_kept(
    person: PersonFactory,
    channel: str,
    world: World,
    services: Services,
    emulator: Emulator,
    tg_bot: BotState,
    wecom_emu: WeComEmulator,
    scheduler: ReminderScheduler,
) -> None:
    principal_got = await principal_inbox(channel, services, world, emulator, tg_bot, wecom_emu)
    plan = await make_plan(services, world)
    # Teacher A never bound a channel: Thursday's reminder is rerouted to the principal's next digest.
    await tick(services, scheduler, datetime(2026, 10, 15, 10, 0, tzinfo=TZ))
    await tick(services, scheduler, datetime(2026, 10, 15, 10, 5, tzinfo=TZ))
    [digest] = principal_got()
    assert "📚 送教上门" in digest and "王老师" in digest and "计划 1 次" in digest
    # Once bound, the teacher logs a session with a photo: stored without a case, named by the session.
    teacher = await person("teacher_a")
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
