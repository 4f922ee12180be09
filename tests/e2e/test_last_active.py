"""A form step records when the person was last active (the dashboard shows it to the minute), at most
once a minute: most steps then write no staff row."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.container import Services
from domain.clock import FixedClock
from tests.e2e.conftest import PersonFactory
from tests.factories import World


async def _last_active(services: Services, staff_id: int) -> datetime | None:
    async with services.uow() as uow:
        staff = await uow.directory.staff(staff_id)
        assert staff is not None
        return staff.last_active_at


async def test_last_active_is_written_at_most_once_a_minute(
    person: PersonFactory, world: World, services: Services, clock: FixedClock
) -> None:
    teacher = await person("teacher_b")
    staff_id = world.staff["teacher_b"].id
    pupil = world.student_in(world.class_b)
    bound = await _last_active(services, staff_id)
    assert bound is not None

    clock.advance(timedelta(minutes=5))
    await teacher.send("/report")
    await teacher.expect(lambda s: bool(s.buttons))
    started = await _last_active(services, staff_id)
    assert started is not None and started >= bound + timedelta(minutes=5)

    clock.advance(timedelta(seconds=20))  # within the minute: left as it was
    await teacher.send(pupil.name[-2:])
    await teacher.expect("搜索结果")
    assert await _last_active(services, staff_id) == started

    clock.advance(timedelta(minutes=2))  # a minute on: written again
    await teacher.send(pupil.name[-1:])
    await teacher.expect("搜索结果")
    later = await _last_active(services, staff_id)
    assert later is not None and later >= started + timedelta(minutes=2)
