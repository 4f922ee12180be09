"""Planning the term-start roll-call prompt (开学点名) on SQLite and PostgreSQL, with a clock moved by hand:
one per active class teacher per term, none once the window is over, a teacher added inside the window
still told, and re-planning never sending twice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from domain.clock import FixedClock
from domain.people.roles import Role
from domain.policy import Policy
from domain.reminders.planning import plan_term_start_prompts, replan_all, still_wanted
from domain.reminders.term_start import TERM_START
from storage import outbox
from storage.models import Reminder, Staff
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = ZoneInfo("Asia/Shanghai")
FIRST_DAY_0005 = datetime(2026, 9, 1, 0, 5, tzinfo=TZ)  # the daily planning run on the term's first day


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


async def prompts(uow_factory: UnitOfWorkFactory) -> list[Reminder]:
    async with uow_factory() as uow:
        q = select(Reminder).where(Reminder.kind == TERM_START).order_by(Reminder.id)
        return list((await uow.session.scalars(q)).all())


async def plan(uow_factory: UnitOfWorkFactory, policy: Policy, now: datetime) -> int:
    async with uow_factory() as uow:
        result = await plan_term_start_prompts(uow, policy=policy, now=now, tz=TZ)
        await uow.commit()
    return result.inserted + result.moved


async def test_one_prompt_per_class_teacher_due_on_the_first_school_day(
    uow_factory: UnitOfWorkFactory, world: World, policy: Policy
) -> None:
    assert await plan(uow_factory, policy, datetime(2026, 8, 31, 12, 0, tzinfo=TZ)) == 0  # before term
    assert await plan(uow_factory, policy, FIRST_DAY_0005) == 2
    found = await prompts(uow_factory)
    assert sorted(r.recipient_id for r in found) == sorted(
        [world.staff["teacher_a"].id, world.staff["teacher_b"].id]
    )  # not the subject teacher, the principal or the cadres
    first_day_9am = datetime(2026, 9, 1, 9, 0, tzinfo=TZ)
    assert {(r.due_at, r.send_after, r.channel, r.case_id, r.state) for r in found} == {
        (first_day_9am, first_day_9am, "direct", None, outbox.PENDING)
    }
    assert found[0].payload == {
        "term": "2026-2027 autumn",
        "starts_on": "2026-09-01",
        "until": "2026-09-03",
        "days": 3,
        "window": 15,  # the policy's verification window, quoted in the prompt
    }
    # Planned again (the daily run, a restart): nothing new, nothing moved.
    assert await plan(uow_factory, policy, datetime(2026, 9, 1, 8, 0, tzinfo=TZ)) == 0
    before = [(r.id, r.due_at, r.send_after) for r in await prompts(uow_factory)]
    await replan_all(uow_factory, policy, FIRST_DAY_0005, TZ)  # also plans the monthly reports
    assert [(r.id, r.due_at, r.send_after) for r in await prompts(uow_factory)] == before


async def test_no_prompt_for_a_term_past_its_roll_call_window(
    uow_factory: UnitOfWorkFactory, world: World, policy: Policy, clock: FixedClock
) -> None:
    assert await plan(uow_factory, policy, datetime(2026, 9, 4, 0, 5, tzinfo=TZ)) == 0  # 4th school day
    assert await plan(uow_factory, policy, clock.now()) == 0  # October
    await replan_all(uow_factory, policy, clock.now(), TZ)
    assert await prompts(uow_factory) == []


async def test_a_class_teacher_added_inside_the_window_is_prompted_once_sent_ones_are_left_alone(
    uow_factory: UnitOfWorkFactory, world: World, policy: Policy
) -> None:
    await plan(uow_factory, policy, FIRST_DAY_0005)
    async with uow_factory() as uow:
        for row in await prompts(uow_factory):  # delivered on the first day
            await outbox.change(uow.session, row.id, when_state=outbox.PENDING, state=outbox.SENT)
        new = Staff(
            name="钱老师",
            phone="13800000099",
            role=Role.CLASS_TEACHER.value,
            school_id=world.school.id,
            created_at=FIRST_DAY_0005,
            active=True,
        )
        uow.session.add(new)
        await uow.commit()
        new_id = new.id
    third_day = datetime(2026, 9, 3, 0, 5, tzinfo=TZ)
    assert await plan(uow_factory, policy, third_day) == 1
    found = {r.recipient_id: r for r in await prompts(uow_factory)}
    assert len(found) == 3
    assert (
        found[new_id].due_at == datetime(2026, 9, 3, 9, 0, tzinfo=TZ)
        and found[new_id].state == outbox.PENDING
    )
    assert {found[world.staff[w].id].state for w in ("teacher_a", "teacher_b")} == {outbox.SENT}
    assert await plan(uow_factory, policy, datetime(2026, 9, 3, 12, 0, tzinfo=TZ)) == 0


async def test_an_inactive_class_teacher_is_not_prompted(
    uow_factory: UnitOfWorkFactory, world: World, policy: Policy
) -> None:
    async with uow_factory() as uow:
        left = await uow.directory.staff(world.staff["teacher_b"].id)
        assert left is not None
        left.active = False
        await uow.commit()
    await plan(uow_factory, policy, FIRST_DAY_0005)
    assert [r.recipient_id for r in await prompts(uow_factory)] == [world.staff["teacher_a"].id]


async def test_a_prompt_still_pending_after_the_window_is_no_longer_wanted(
    uow_factory: UnitOfWorkFactory, world: World, policy: Policy
) -> None:
    await plan(uow_factory, policy, FIRST_DAY_0005)
    row = (await prompts(uow_factory))[0]
    async with uow_factory() as uow:
        assert await still_wanted(uow, row, policy, TZ, datetime(2026, 9, 3, 20, 0, tzinfo=TZ))
        assert not await still_wanted(uow, row, policy, TZ, datetime(2026, 9, 4, 9, 0, tzinfo=TZ))
