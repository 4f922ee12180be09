"""送教上门 rules on SQLite and PostgreSQL: who may log a session and what is refused, a monthly plan's
reminders with the clock moved (a plan started after mid-month owes nothing that month, the principal is
told when no teacher is left), and session photos kept by the retention run."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from domain.audit import Actor
from domain.clock import FixedClock
from domain.errors import InvalidInput, NotInScope
from domain.home_teaching.plans import PlanInput, SessionInput, log_session, period_of, save_plan
from domain.home_teaching.reminders import plan_facts, replan_home_teaching, wanted_for_plan
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.privacy.erasure import Removed, anonymise_student
from domain.reminders.rules import HOME_TEACHING_DUE, HOME_TEACHING_MISSED
from storage.media import LocalMediaStore
from storage.models import Attachment, HomeTeachingPlan, HomeTeachingSession, Reminder
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world
from tests.integration.test_retention import _photo, _run

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


@pytest.fixture
def media(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


async def monthly_plan(uow_factory: UnitOfWorkFactory, world: World, starts_on: date) -> HomeTeachingPlan:
    """Twice a month, taught by teacher A, made by the principal."""
    async with uow_factory() as uow:
        principal = await uow.directory.staff(world.staff["principal"].id)
        assert principal is not None
        data = PlanInput(
            world.student_in(world.class_a).id,
            [world.staff["teacher_a"].id],
            "month",
            2,
            90,
            "康复训练",
            starts_on,
            starts_on + timedelta(days=200),
            "县残评〔2026〕7号",
        )
        plan = await save_plan(
            uow,
            await scope_for(uow, principal),
            Actor(principal.id, "test"),
            principal.role,
            data,
            now=datetime(2026, 10, 1, tzinfo=TZ),
        )
        await uow.commit()
    return plan


async def session(
    uow_factory: UnitOfWorkFactory, world: World, who: str, plan_id: int, day: date, **kw: object
) -> None:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        data = SessionInput(plan_id, day, int(kw.pop("minutes", 60)), "识字", str(kw.pop("state", "good")))  # type: ignore[call-overload]
        await log_session(
            uow,
            staff,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            data,
            now=datetime(2026, 12, 1, tzinfo=TZ),
            today=date(2026, 11, 30),
        )
        await uow.commit()


async def test_only_the_plans_people_may_log_and_bad_values_change_nothing(
    uow_factory: UnitOfWorkFactory, world: World
) -> None:
    plan = await monthly_plan(uow_factory, world, date(2026, 10, 1))
    with pytest.raises(NotInScope):
        await session(uow_factory, world, "teacher_b", plan.id, date(2026, 10, 5))
    with pytest.raises(NotInScope):
        await session(uow_factory, world, "cadre_a", plan.id, date(2026, 10, 5))
    refused: list[tuple[dict[str, object], str]] = [
        ({"day": date(2026, 9, 30)}, "home_teaching.error.before_plan"),
        ({"day": date(2026, 12, 5)}, "form.date_in_future"),
        ({"minutes": 5}, "home_teaching.error.minutes"),
        ({"state": "asleep"}, "home_teaching.error.child_state"),
    ]
    for change, code in refused:
        day = change.pop("day", date(2026, 10, 5))
        assert isinstance(day, date)
        with pytest.raises(InvalidInput) as exc:
            await session(uow_factory, world, "teacher_a", plan.id, day, **change)
        assert exc.value.code == code
    await session(uow_factory, world, "principal", plan.id, date(2026, 10, 5))  # principals may log too
    async with uow_factory() as uow:
        teacher = await uow.directory.staff(world.staff["teacher_a"].id)
        assert teacher is not None
        with pytest.raises(NotInScope):  # only coordinators keep plans
            await save_plan(
                uow,
                await scope_for(uow, teacher),
                Actor(teacher.id, "test"),
                teacher.role,
                PlanInput(
                    plan.student_id,
                    [teacher.id],
                    "week",
                    1,
                    60,
                    "x",
                    date(2026, 10, 1),
                    date(2027, 1, 1),
                    "r",
                ),
                now=datetime(2026, 10, 2, tzinfo=TZ),
            )


async def test_a_monthly_plan_over_two_months_with_the_clock_moved(
    uow_factory: UnitOfWorkFactory, world: World, policy: Policy
) -> None:
    # Started on 20 October, after mid-month: October owes nothing; November owes two sessions.
    plan = await monthly_plan(uow_factory, world, date(2026, 10, 20))

    async def rows_at(at: datetime) -> list[Reminder]:
        await replan_home_teaching(uow_factory, policy, at, TZ)
        async with uow_factory() as uow:
            found = (await uow.session.scalars(select(Reminder).order_by(Reminder.id))).all()
        return [r for r in found if r.state == "pending"]

    assert await rows_at(datetime(2026, 10, 25, 10, tzinfo=TZ)) == []
    november = await rows_at(datetime(2026, 11, 3, 10, tzinfo=TZ))
    assert [(r.kind, r.recipient_id) for r in november] == [(HOME_TEACHING_DUE, world.staff["teacher_a"].id)]
    assert november[0].due_at == datetime(2026, 11, 15, 9, tzinfo=TZ)  # mid-month, at the reminder time
    assert november[0].payload["held"] == 0 and november[0].payload["planned"] == 2
    await session(uow_factory, world, "teacher_a", plan.id, date(2026, 11, 10))
    after_one = await rows_at(datetime(2026, 11, 11, 10, tzinfo=TZ))
    assert [r.payload["held"] for r in after_one] == [1]  # one of two: still due, now saying so
    # December: November ended short, the principal is told; teacher A left, so the principal is also the
    # one reminded of December's sessions.
    async with uow_factory() as uow:
        teacher = await uow.directory.staff(world.staff["teacher_a"].id)
        assert teacher is not None
        teacher.active = False
        await uow.commit()
    december = await rows_at(datetime(2026, 12, 1, 10, tzinfo=TZ))
    principal = world.staff["principal"].id
    assert sorted((r.kind, r.recipient_id, r.channel) for r in december) == [
        (HOME_TEACHING_DUE, principal, "digest"),
        (HOME_TEACHING_MISSED, principal, "digest"),
    ]
    missed = next(r for r in december if r.kind == HOME_TEACHING_MISSED)
    assert (missed.payload["held"], missed.payload["streak"], missed.payload["period_start"]) == (
        1,
        1,
        "2026-11-01",
    )
    # A session of November logged late takes the item back before the principal's digest is made.
    await session(uow_factory, world, "principal", plan.id, date(2026, 11, 28))
    assert [r.kind for r in await rows_at(datetime(2026, 12, 1, 11, tzinfo=TZ))] == [HOME_TEACHING_DUE]
    async with uow_factory() as uow:
        stored = await uow.session.get(HomeTeachingPlan, plan.id)
        assert stored is not None
        facts = await plan_facts(uow, stored, TZ, datetime(2026, 12, 1, 11, tzinfo=TZ))
    assert period_of(date(2026, 11, 28), "month").holds(facts.days[-1])
    stored.active = False
    assert wanted_for_plan(facts, policy, TZ, datetime(2026, 12, 1, 11, tzinfo=TZ)) == []


async def test_session_photos_are_kept_by_the_retention_run(
    uow_factory: UnitOfWorkFactory,
    world: World,
    media: LocalMediaStore,
    policy: Policy,
    clock: FixedClock,
) -> None:
    plan = await monthly_plan(uow_factory, world, date(2026, 10, 1))
    now = clock.now()
    kept = await _photo(uow_factory, media, None, b"session", at=now - timedelta(days=5))
    abandoned = await _photo(uow_factory, media, None, b"abandoned", at=now - timedelta(days=5))
    async with uow_factory() as uow:
        teacher = await uow.directory.staff(world.staff["teacher_a"].id)
        assert teacher is not None
        data = SessionInput(plan.id, date(2026, 10, 8), 60, "识字", "good", photo_ids=(kept.id,))
        await log_session(
            uow,
            teacher,
            await scope_for(uow, teacher),
            Actor(teacher.id, "t"),
            data,
            now=now,
            today=date(2026, 10, 13),
        )
        await uow.commit()
    done = await _run(uow_factory, media, policy, clock)
    assert done.draft_photos == 1
    async with uow_factory() as uow:
        assert await uow.session.get(Attachment, kept.id) is not None
        assert await uow.session.get(Attachment, abandoned.id) is None


async def test_erasing_a_pupil_removes_the_plans_text_and_the_session_photos(
    uow_factory: UnitOfWorkFactory, world: World, media: LocalMediaStore, clock: FixedClock
) -> None:
    plan = await monthly_plan(uow_factory, world, date(2026, 10, 1))
    photo = await _photo(uow_factory, media, None, b"session", at=clock.now())
    async with uow_factory() as uow:
        teacher = await uow.directory.staff(world.staff["teacher_a"].id)
        assert teacher is not None
        data = SessionInput(
            plan.id, date(2026, 10, 8), 60, "识字", "unwell", note="发烧", photo_ids=(photo.id,)
        )
        scope = await scope_for(uow, teacher)
        await log_session(
            uow, teacher, scope, Actor(teacher.id, "t"), data, now=clock.now(), today=date(2026, 10, 13)
        )
        await uow.commit()
    async with uow_factory() as uow:
        student = await uow.students.get(plan.student_id)
        assert student is not None
        removed = Removed()
        await anonymise_student(uow, student, clock.now(), removed)
        await uow.commit()
    assert removed.photos == 1 and photo.sha256 in removed.files
    async with uow_factory() as uow:
        stored = await uow.session.get(HomeTeachingPlan, plan.id)
        assert stored is not None and (stored.content_areas, stored.assessment_ref, stored.active) == (
            "",
            "",
            False,
        )
        [kept] = (await uow.session.scalars(select(HomeTeachingSession))).all()
        assert (kept.content, kept.note, kept.photo_ids, kept.minutes) == ("", None, [], 60)
        assert await uow.session.get(Attachment, photo.id) is None
