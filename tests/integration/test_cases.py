"""Opening cases on absence, status changes with history, reclassification, and scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, change_status, reclassify, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.clock import FixedClock
from domain.errors import AbsenceAlreadyReported, InvalidInput, InvalidTransition, NotInScope
from domain.people.scope import scope_for
from domain.policy import Policy
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = __import__("zoneinfo").ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


async def _report(
    uow_factory: UnitOfWorkFactory,
    world: World,
    who: str,
    student_id: int,
    clock: FixedClock,
    policy: Policy,
    **kw: object,
):
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        scope = await scope_for(uow, staff)
        actor = Actor(staff.id, f"test:{who}")
        report = AbsenceReport(student_id=student_id, **kw)  # type: ignore[arg-type]
        case, created = await report_absence(uow, scope, actor, report, now=clock.now(), policy=policy, tz=TZ)
        await uow.commit()
        return case, created


async def test_absence_report_opens_a_case_with_deadlines_and_responsible_people(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    pupil = world.student_in(world.class_a)
    today = clock.now().astimezone(TZ).date()
    case, created = await _report(
        uow_factory,
        world,
        "subject",
        pupil.id,
        clock,
        policy,
        absent_since=today,
        reason_code="A2",
        flags=["left_behind"],
    )
    assert created
    assert case.status == CaseStatus.ABSENT
    assert case.responsible_teacher_id == world.staff["teacher_a"].id  # the class teacher, not the reporter
    assert case.responsible_cadre_id == world.staff["cadre_a"].id  # cadre of the home village
    assert case.visit_due_at == clock.now() + timedelta(days=3)
    assert case.number.startswith(f"{today.year}-")
    async with uow_factory() as uow:
        kinds = [e.kind for e in await uow.cases.events(case.id)]
        assert kinds == ["opened", "absence_reported"]
        assert await uow.students.flags(pupil.id) == ["left_behind"]


async def test_long_absence_opens_a_suspected_case_with_the_15_day_rule(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    """Within the first weeks of term the deadline is term start + 15 days (004_4b017d4e2bf19d2a.txt)."""
    clock.set(datetime(2026, 9, 7, 1, 0, tzinfo=UTC))  # a week into the autumn term
    pupil = world.student_in(world.class_b)
    since = clock.now().astimezone(TZ).date() - timedelta(days=5)
    case, _ = await _report(uow_factory, world, "teacher_b", pupil.id, clock, policy, absent_since=since)
    assert case.status == CaseStatus.SUSPECTED
    assert case.verification_due_at is not None
    assert case.verification_due_at.astimezone(TZ).date() == date(2026, 9, 16)


async def test_a_suspected_case_opened_later_in_term_gets_the_window_from_its_opening(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    pupil = world.student_in(world.class_b)
    since = clock.now().astimezone(TZ).date() - timedelta(days=5)
    case, _ = await _report(uow_factory, world, "teacher_b", pupil.id, clock, policy, absent_since=since)
    assert case.verification_due_at == clock.now() + timedelta(days=15)


async def test_second_report_adds_to_the_open_case(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    pupil = world.student_in(world.class_a)
    today = clock.now().astimezone(TZ).date()
    first, _ = await _report(uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=today)
    second, created = await _report(
        uow_factory, world, "subject", pupil.id, clock, policy, absent_since=today - timedelta(days=1)
    )
    assert not created and second.id == first.id
    assert second.first_absent_on == today - timedelta(days=1)
    async with uow_factory() as uow:
        assert [e.kind for e in await uow.cases.events(first.id)].count("absence_reported") == 2


async def test_the_same_absence_reported_again_is_recognised_and_not_stored(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    """A repeated report (the form filled in again after a lost reply, or by a second teacher) names the
    case it is on and writes nothing, not even the flags it carries."""
    pupil = world.student_in(world.class_a)
    since = clock.now().astimezone(TZ).date() - timedelta(days=1)
    first, _ = await _report(uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=since)
    reported_at = clock.now()
    clock.advance(timedelta(hours=2))
    with pytest.raises(AbsenceAlreadyReported) as refused:
        await _report(
            uow_factory, world, "subject", pupil.id, clock, policy, absent_since=since, flags=["left_behind"]
        )
    assert refused.value.case_number == first.number
    assert refused.value.reported_at == reported_at
    async with uow_factory() as uow:
        assert [e.kind for e in await uow.cases.events(first.id)].count("absence_reported") == 1
        assert await uow.students.flags(pupil.id) == []


async def test_a_new_absence_after_the_return_is_recorded_and_then_recognised_once_repeated(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    pupil = world.student_in(world.class_a)
    today = clock.now().astimezone(TZ).date()
    first, _ = await _report(
        uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=today - timedelta(days=1)
    )
    async with uow_factory() as uow:
        case = await uow.cases.get(first.id)
        assert case is not None
        await change_status(
            uow, case, CaseStatus.RETURNED, Actor(world.staff["teacher_a"].id, "test"), now=clock.now()
        )
        await uow.commit()
    clock.advance(timedelta(days=7))
    later = today + timedelta(days=6)
    again, created = await _report(
        uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=later
    )
    assert not created and again.id == first.id and again.status == CaseStatus.ABSENT
    assert again.first_absent_on == later
    with pytest.raises(AbsenceAlreadyReported):  # the new episode's report, repeated
        await _report(uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=later)
    # The first episode's day is no repeat of this episode's report: kept, as an earlier start.
    await _report(
        uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=today - timedelta(days=1)
    )
    async with uow_factory() as uow:
        assert [e.kind for e in await uow.cases.events(first.id)].count("absence_reported") == 3


async def test_teacher_cannot_report_a_pupil_of_another_class_and_it_is_logged(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    other = world.student_in(world.class_b)
    with pytest.raises(NotInScope):
        await _report(
            uow_factory, world, "teacher_a", other.id, clock, policy, absent_since=clock.now().date()
        )
    async with uow_factory() as uow:
        # The refusal was logged in its own transaction by the caller in real use; here nothing is stored.
        assert await uow.cases.open_for_student(other.id) is None


@pytest.mark.parametrize(("days", "code"), [(-1, "date_in_future"), (400, "date_too_old")])
async def test_absence_dates_must_be_plausible(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy, days: int, code: str
) -> None:
    pupil = world.student_in(world.class_a)
    with pytest.raises(InvalidInput) as err:
        await _report(
            uow_factory,
            world,
            "teacher_a",
            pupil.id,
            clock,
            policy,
            absent_since=clock.now().astimezone(TZ).date() - timedelta(days=days),
        )
    assert err.value.code == code


async def test_unknown_reason_code_is_refused(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    with pytest.raises(InvalidInput):
        await _report(
            uow_factory,
            world,
            "teacher_a",
            world.student_in(world.class_a).id,
            clock,
            policy,
            absent_since=date(2026, 10, 12),
            reason_code="K",
        )


async def test_status_changes_follow_the_lifecycle_and_keep_history(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    pupil = world.student_in(world.class_a)
    case, _ = await _report(
        uow_factory,
        world,
        "teacher_a",
        pupil.id,
        clock,
        policy,
        absent_since=clock.now().astimezone(TZ).date(),
    )
    actor = Actor(world.staff["principal"].id, "test")
    async with uow_factory() as uow:
        row = await uow.cases.get(case.id)
        assert row is not None
        await change_status(uow, row, CaseStatus.SUSPECTED, actor, now=clock.now())
        await reclassify(uow, row, "verification_2019", "I", actor, now=clock.now())
        await reclassify(uow, row, "verification_2019", "L", actor, now=clock.now())
        with pytest.raises(InvalidTransition):
            await change_status(uow, row, CaseStatus.CLOSED, actor, now=clock.now())
        await uow.commit()
    async with uow_factory() as uow:
        row = await uow.cases.get(case.id)
        assert row is not None and row.status == "suspected" and row.category_code == "L"
        events = await uow.cases.events(case.id)
        moves = [(e.from_status, e.to_status) for e in events if e.kind == "status_changed"]
        assert moves == [("absent", "suspected")]
        history = [e.data["after"]["code"] for e in events if e.kind == "reclassified"]
        assert history == ["I", "L"]


async def test_only_one_open_case_per_student_is_enforced_by_the_database(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    from sqlalchemy.exc import IntegrityError

    from storage.models import Case

    pupil = world.student_in(world.class_a)
    await _report(
        uow_factory,
        world,
        "teacher_a",
        pupil.id,
        clock,
        policy,
        absent_since=clock.now().astimezone(TZ).date(),
    )
    async with uow_factory() as uow:
        uow.session.add(
            Case(
                number="dup-1",
                student_id=pupil.id,
                status="absent",
                opened_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        with pytest.raises(IntegrityError):
            await uow.flush()


async def test_scopes_follow_least_privilege(uow_factory: UnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:

        async def visible(who: str) -> set[int]:
            staff = await uow.directory.staff(world.staff[who].id)
            assert staff is not None
            scope = await scope_for(uow, staff)
            return {pupil.id for pupil in await uow.students.on_rolls(scope, "小", limit=200)}

        in_a = {s.id for s in world.students if s.class_id == world.class_a.id}
        everyone = {s.id for s in world.students}
        assert await visible("teacher_a") == in_a
        assert await visible("subject") == everyone  # teaches both classes
        assert await visible("cadre_a") == in_a  # class A pupils live in village A in the fixture
        assert await visible("principal") == everyone
        assert await visible("township") == everyone
        assert await visible("county") == everyone
        assert await visible("admin") == everyone


async def test_pupils_on_rolls_follow_the_scope_and_match_the_typed_text_literally(
    uow_factory: UnitOfWorkFactory, world: World
) -> None:
    """The pupil question's one-statement read (StudentRepository.on_rolls): the same pupils as the
    scoped search, each with their class, and a typed % or _ is no wildcard."""
    async with uow_factory() as uow:
        pupil = await uow.students.get(world.student_in(world.class_a).id)
        assert pupil is not None
        pupil.name = "王%_小"
        await uow.commit()
    async with uow_factory() as uow:

        async def on_rolls(who: str, fragment: str | None) -> dict[int, str]:
            staff = await uow.directory.staff(world.staff[who].id)
            assert staff is not None
            found = await uow.students.on_rolls(await scope_for(uow, staff), fragment, limit=200)
            return {pupil.id: pupil.class_name for pupil in found}

        in_a = {s.id: world.class_a.name for s in world.students if s.class_id == world.class_a.id}
        assert await on_rolls("teacher_a", None) == in_a  # no fragment: the whole class
        assert await on_rolls("teacher_a", "小") == in_a
        assert len(await on_rolls("principal", "小")) == len(world.students)
        assert await on_rolls("teacher_a", "%_") == {pupil.id: world.class_a.name}
        assert await on_rolls("principal", "_") == {pupil.id: world.class_a.name}
        assert await on_rolls("principal", "王%") == {pupil.id: world.class_a.name}


async def test_chat_flags_replace_the_ordinary_ones_and_never_touch_the_sensitive_ones(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    pupil = world.student_in(world.class_a)
    today = clock.now().astimezone(TZ).date()
    async with uow_factory() as uow:
        await uow.students.set_flags(pupil.id, ["left_behind", "religion_related"])
        await uow.commit()

    async def flags() -> list[str]:
        async with uow_factory() as uow:
            return await uow.students.flags(pupil.id)

    with pytest.raises(InvalidInput) as refused:
        await _report(
            uow_factory,
            world,
            "teacher_a",
            pupil.id,
            clock,
            policy,
            absent_since=today,
            flags=["early_marriage"],
        )
    assert refused.value.code == "unknown_flag"
    await _report(
        uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=today, flags=["orphan"]
    )
    assert await flags() == ["orphan", "religion_related"]
    # Each a report of an earlier first day (the same day again would be a repeat, refused).
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    await _report(uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=yesterday, flags=[])
    assert await flags() == ["religion_related"]  # unticking every group clears them, but not this one
    await _report(uow_factory, world, "teacher_a", pupil.id, clock, policy, absent_since=before)
    assert await flags() == ["religion_related"]  # no flags given (roll call): nothing changes
