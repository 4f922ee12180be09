"""Term-start roll call: suspected cases with the 15-day rule, additions to open cases, scope; when it is due."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.casework.rollcall import RollCall, RollCallResult, record_roll_call, roll_call_due
from domain.clock import FixedClock
from domain.errors import NotInScope, RollCallClosed
from domain.people.scope import scope_for
from domain.policy import Policy, Term
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = ZoneInfo("Asia/Shanghai")
TERM_START = date(2026, 9, 1)  # a Tuesday, in the shipped policy


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


@pytest.fixture
def term_clock(clock: FixedClock) -> FixedClock:
    clock.set(datetime(2026, 9, 2, 1, 0, tzinfo=UTC))  # the second day of term, 09:00 in Beijing
    return clock


async def _roll_call(
    uow_factory: UnitOfWorkFactory,
    world: World,
    who: str,
    roll_call: RollCall,
    clock: FixedClock,
    policy: Policy,
) -> RollCallResult:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        try:
            return await record_roll_call(
                uow,
                await scope_for(uow, staff),
                Actor(staff.id, f"test:{who}"),
                roll_call,
                now=clock.now(),
                policy=policy,
                tz=TZ,
            )
        finally:
            await uow.commit()


def _pupils(world: World, cls: object) -> list[int]:
    return [s.id for s in world.students if s.class_id == cls.id]  # type: ignore[attr-defined]


async def test_roll_call_opens_suspected_cases_with_the_15_day_deadline(
    uow_factory: UnitOfWorkFactory, world: World, term_clock: FixedClock, policy: Policy
) -> None:
    absent = _pupils(world, world.class_a)[:2]
    result = await _roll_call(
        uow_factory, world, "teacher_a", RollCall(world.class_a.id, absent), term_clock, policy
    )
    assert len(result.opened) == 2 and result.updated == []
    for case in result.opened:
        assert case.status == CaseStatus.SUSPECTED
        assert case.first_absent_on == TERM_START
        assert case.verification_due_at is not None
        assert case.verification_due_at.astimezone(TZ).date() == TERM_START + timedelta(days=15)
        assert case.responsible_teacher_id == world.staff["teacher_a"].id
    async with uow_factory() as uow:
        kinds = [e.kind for e in await uow.cases.events(result.opened[0].id)]
        assert kinds == ["opened", "absence_reported", "roll_call_absent"]
        assert [e.detail for e in await uow.audit.entries("roll_call")] == [
            {"absent": 2, "opened": 2, "updated": 0}
        ]


async def test_pupil_with_an_open_case_gets_the_report_added(
    uow_factory: UnitOfWorkFactory, world: World, term_clock: FixedClock, policy: Policy
) -> None:
    pupil = _pupils(world, world.class_a)[0]
    async with uow_factory() as uow:
        staff = world.staff["teacher_a"]
        first, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            AbsenceReport(pupil, date(2026, 9, 2)),
            now=term_clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    result = await _roll_call(
        uow_factory, world, "teacher_a", RollCall(world.class_a.id, [pupil, pupil]), term_clock, policy
    )
    assert result.opened == [] and [c.id for c in result.updated] == [first.id]
    assert result.updated[0].first_absent_on == TERM_START  # the earlier date wins


async def test_a_pupil_already_reported_from_term_start_and_a_repeated_roll_call_add_no_report(
    uow_factory: UnitOfWorkFactory, world: World, term_clock: FixedClock, policy: Policy
) -> None:
    """The absence from term start is on the case once: a teacher's report of the same day, or the roll
    call sent twice, counts the case as updated and records only the roll call."""
    pupils = _pupils(world, world.class_a)[:2]
    async with uow_factory() as uow:
        staff = world.staff["teacher_a"]
        first, _ = await report_absence(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            AbsenceReport(pupils[0], TERM_START),
            now=term_clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    call = RollCall(world.class_a.id, pupils)
    result = await _roll_call(uow_factory, world, "teacher_a", call, term_clock, policy)
    assert [c.id for c in result.updated] == [first.id] and len(result.opened) == 1
    again = await _roll_call(uow_factory, world, "teacher_a", call, term_clock, policy)
    assert again.opened == [] and len(again.updated) == 2
    async with uow_factory() as uow:
        for case in [first, result.opened[0]]:
            kinds = [e.kind for e in await uow.cases.events(case.id)]
            assert kinds.count("absence_reported") == 1
            assert kinds.count("roll_call_absent") == 2


async def test_whole_class_present_records_only_the_roll_call(
    uow_factory: UnitOfWorkFactory, world: World, term_clock: FixedClock, policy: Policy
) -> None:
    result = await _roll_call(uow_factory, world, "teacher_a", RollCall(world.class_a.id), term_clock, policy)
    assert result.opened == result.updated == []
    async with uow_factory() as uow:
        assert await uow.cases.count_by_status() == {}
        assert len(await uow.audit.entries("roll_call")) == 1


async def test_without_a_configured_term_the_window_counts_from_today(
    uow_factory: UnitOfWorkFactory, world: World, term_clock: FixedClock, policy: Policy
) -> None:
    no_terms = dataclasses.replace(policy, terms=())
    pupil = _pupils(world, world.class_b)[0]
    result = await _roll_call(
        uow_factory, world, "teacher_b", RollCall(world.class_b.id, [pupil]), term_clock, no_terms
    )
    case = result.opened[0]
    assert case.first_absent_on == date(2026, 9, 2)
    assert case.verification_due_at is not None
    assert case.verification_due_at.astimezone(TZ).date() == date(2026, 9, 17)


@pytest.mark.parametrize(
    ("who", "class_key", "pupils_of"),
    [
        ("teacher_a", "class_b", "class_b"),  # someone else's class
        ("teacher_a", "class_a", "class_b"),  # own class, forged pupil of another class
    ],
)
async def test_roll_call_outside_scope_is_refused_and_audited(
    uow_factory: UnitOfWorkFactory,
    world: World,
    term_clock: FixedClock,
    policy: Policy,
    who: str,
    class_key: str,
    pupils_of: str,
) -> None:
    roll_call = RollCall(getattr(world, class_key).id, _pupils(world, getattr(world, pupils_of))[:1])
    with pytest.raises(NotInScope):
        await _roll_call(uow_factory, world, who, roll_call, term_clock, policy)
    async with uow_factory() as uow:
        assert await uow.cases.count_by_status() == {}
        assert len(await uow.audit.entries("denied")) == 1
        assert await uow.audit.entries("roll_call") == []


# roll_call_due: pure, no database.
@pytest.mark.parametrize(
    ("day", "due"),
    [
        (date(2026, 8, 31), False),  # before the term
        (date(2026, 9, 1), True),  # Tue, school day 1
        (date(2026, 9, 3), True),  # Thu, school day 3
        (date(2026, 9, 4), False),  # Fri, school day 4
        (date(2026, 9, 5), False),  # Saturday
        (date(2027, 2, 22), True),  # spring term, day 1
    ],
)
def test_roll_call_is_due_on_the_first_school_days_of_term(policy: Policy, day: date, due: bool) -> None:
    assert roll_call_due(policy, day) is due


def test_weekends_and_holidays_do_not_count_as_roll_call_days(policy: Policy) -> None:
    # A term starting on a Friday: Fri is day 1, Sat/Sun and the Monday holiday are skipped, Tue day 2, Wed day 3.
    friday_term = dataclasses.replace(
        policy, terms=(Term("t", date(2026, 9, 4)),), holidays=frozenset({date(2026, 9, 7)})
    )
    days = [date(2026, 9, 4) + timedelta(days=n) for n in range(7)]
    assert [d.day for d in days if roll_call_due(friday_term, d)] == [4, 8, 9]


async def test_roll_call_after_the_window_is_refused_and_records_nothing(
    uow_factory: UnitOfWorkFactory, world: World, clock: FixedClock, policy: Policy
) -> None:
    clock.set(datetime(2026, 9, 4, 1, 0, tzinfo=UTC))  # Friday, the fourth school day of the term
    with pytest.raises(RollCallClosed):
        await _roll_call(
            uow_factory,
            world,
            "teacher_a",
            RollCall(world.class_a.id, _pupils(world, world.class_a)[:1]),
            clock,
            policy,
        )
    async with uow_factory() as uow:
        assert await uow.cases.count_by_status() == {}
        assert await uow.audit.entries("roll_call") == []


def test_a_make_up_saturday_is_a_roll_call_day_and_a_holiday_is_not(policy: Policy) -> None:
    # A term starting on Thu 2026-10-08, after National Day: Thu, Fri, then Sat 10-10 worked (调休).
    after_national_day = dataclasses.replace(policy, terms=(Term("t", date(2026, 10, 8)),))
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(14)]
    assert [d.day for d in days if roll_call_due(after_national_day, d)] == [8, 9, 10]
    in_national_day = dataclasses.replace(policy, terms=(Term("t", date(2026, 10, 1)),))
    assert [d.day for d in days if roll_call_due(in_national_day, d)] == [8, 9, 10]
