"""适龄儿童台账 on SQLite and PostgreSQL: each child's status from a crafted saved cross-check, the pupils'
cases and a home-teaching plan; 入学率 and 巩固率 by hand; what a township officer and a principal see; a
case becoming a dropout moves its child; and no saved cross-check."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from domain.casework.lifecycle import CaseStatus as S
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.school_age.ledger import LedgerFigures, NoCrosscheckSaved, ledger_figures
from domain.school_age.status import ChildStatus as C
from domain.school_age.status import child_status
from storage import school_age as store
from storage.models import Area, Student
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world
from tests.fixtures.school_age import TZ, child, home_teaching_plan, move_case, open_case, save_run

NOW = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)
OPENED = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)


@dataclass
class Ledger:
    world: World
    township2: Area
    cases: dict[str, int]
    expected: dict[str, C]  # child key -> status


async def _second_township(uow_factory: UnitOfWorkFactory, world: World) -> tuple[Area, Area, Student]:
    """北岭镇 with 北岭村, and one more pupil of school 1 (the one a 失学 child's case is opened for)."""
    async with uow_factory() as uow:
        township = Area(code="T-T2", name="北岭镇", level="township", parent_id=world.county.id)
        uow.session.add(township)
        await uow.flush()
        village = Area(code="T-V2", name="北岭村", level="village", parent_id=township.id)
        pupil = Student(
            student_number="L202699999999",
            name="测试失学",
            sex="M",
            birth_date=date(2016, 5, 5),
            school_id=world.school.id,
            class_id=world.class_a.id,
            home_village_id=world.village_a.id,
        )
        uow.session.add_all([village, pupil])
        await uow.commit()
    return township, village, pupil


async def build_ledger(uow_factory: UnitOfWorkFactory, policy: Policy) -> Ledger:
    world = await build_world(uow_factory)
    township2, village2, late = await _second_township(uow_factory, world)
    s, va, vb = world.students, world.village_a.id, world.village_b.id
    teacher = world.staff["teacher_a"].id

    async def case(student: Student, path: list[S], code: tuple[str, str] | None = None) -> int:
        return await open_case(uow_factory, policy, student.id, path, actor_id=teacher, now=OPENED, code=code)

    cases = {
        "suspected": await case(s[1], [S.SUSPECTED]),
        "dropped": await case(s[2], [S.SUSPECTED, S.DROPPED_OUT]),
        "back": await case(s[3], [S.SUSPECTED, S.RETURNED, S.RETENTION]),
        "deferred": await case(s[4], [S.CLEARED], ("verification_2019", "E")),
        "abroad": await case(s[5], [S.CLEARED], ("verification_2019", "H")),
        "absent": await case(s[7], []),
        "never": await case(late, [S.SUSPECTED, S.DROPPED_OUT]),
    }
    await home_teaching_plan(uow_factory, s[6].id, teacher)

    def pupil(key: str, bucket: str, student: Student, village: int) -> dict[str, object]:
        return child(
            key,
            bucket,
            student_id=student.id,
            school_id=world.school.id,
            student_number=student.student_number,
            village_id=village,
            name=student.name,
            birth_date=student.birth_date,
        )

    children = [
        pupil("CC-01", "present", s[0], va),
        pupil("CC-02", "present", s[1], va),
        pupil("CC-03", "absent", s[2], va),
        pupil("CC-04", "present", s[3], va),
        pupil("CC-05", "present", s[4], vb),
        pupil("CC-06", "present", s[5], vb),
        pupil("CC-07", "present", s[6], vb),
        pupil("CC-08", "absent", s[7], vb),
        child(
            "CC-09", "elsewhere", village_id=vb, school_label="东乡初级中学", national_id="110101201503010011"
        ),
        child("CC-10", "out_of_school", village_id=va, poverty=True),
        child("CC-11", "to_resolve"),
        child("CC-12", "out_of_range", village_id=va, birth_date=date(2008, 5, 5)),
        child("CC-13", "out_of_school", village_id=village2.id, disability="肢体 二级"),
        child("CC-14", "out_of_school", village_id=va, case_id=cases["never"], decision="opened"),
    ]
    county = world.county.id
    # An earlier run: its child is no longer the ledger.
    await save_run(uow_factory, county, [child("CC-99", "present", village_id=va)], created_at=OPENED)
    await save_run(uow_factory, county, children)
    expected = {
        "CC-01": C.IN_SCHOOL,
        "CC-02": C.SUSPECTED,
        "CC-03": C.DROPPED_OUT,
        "CC-04": C.IN_SCHOOL,
        "CC-05": C.DEFERRED,
        "CC-06": C.MOVED_AWAY,
        "CC-07": C.HOME_TEACHING,
        "CC-08": C.IN_SCHOOL,  # a plain absence is not a suspected dropout
        "CC-09": C.ELSEWHERE,
        "CC-10": C.OUT_OF_SCHOOL_SUSPECTED,
        "CC-11": C.TO_VERIFY,
        "CC-13": C.OUT_OF_SCHOOL_SUSPECTED,
        "CC-14": C.OUT_OF_SCHOOL,
    }
    return Ledger(world, township2, cases, expected)


@pytest.fixture
async def ledger(uow_factory: UnitOfWorkFactory, policy: Policy) -> Ledger:
    return await build_ledger(uow_factory, policy)


async def statuses(uow_factory: UnitOfWorkFactory, scope: Scope) -> dict[str, C]:
    """Child key -> status, of the children `scope` sees in the latest runs."""
    async with uow_factory() as uow:
        runs = await store.latest_runs(uow.session, None)
        return {
            row.key: child_status(row.inputs)
            async for row in store.stream_children(uow.session, scope, runs, NOW.date())
        }


async def figures_of(uow_factory: UnitOfWorkFactory, who: str, world: World) -> LedgerFigures:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        return await ledger_figures(uow, await scope_for(uow, staff), now=NOW, tz=TZ)


async def test_each_child_has_the_status_its_bucket_case_and_plan_give(
    uow_factory: UnitOfWorkFactory, ledger: Ledger
) -> None:
    assert await statuses(uow_factory, Scope(staff_id=None, everything=True)) == ledger.expected


async def test_the_county_figures_and_rates_match_a_hand_count(
    uow_factory: UnitOfWorkFactory, ledger: Ledger
) -> None:
    figures = await figures_of(uow_factory, "county", ledger.world)
    total = figures.total
    assert total.children == 13  # out_of_range and the earlier run's child left out
    assert total.by_status == Counter(ledger.expected.values())
    # 入学率: (3 in school + 1 elsewhere + 1 home teaching) / (13 − 1 deferred − 1 moved away) = 5 / 11.
    assert (total.enrolled, total.expected) == (5, 11)
    assert total.enrolment_rate == pytest.approx(5 / 11)
    # 巩固率: of 7 ever enrolled (5 enrolled + 1 suspected + 1 dropped out), 6 not dropped out.
    assert total.on_roll == 7 and total.retention_rate == pytest.approx(6 / 7)
    levels = [(r.level, r.township, r.village, r.tally.children) for r in figures.rows]
    assert levels == [
        ("county", "测试县", "", 13),
        ("township", "示范镇", "", 11),
        ("village", "示范镇", "东山村", 6),
        ("village", "示范镇", "西河村", 5),
        ("township", "北岭镇", "", 1),
        ("village", "北岭镇", "北岭村", 1),
        ("not_placed", "", "", 1),
    ]
    assert [r.run_id for r in figures.runs] == [max(r.run_id for r in figures.runs)]
    assert figures.runs[0].created_at == datetime(2026, 9, 5, 2, 0, tzinfo=UTC)


async def test_a_township_officer_sees_only_their_township(
    uow_factory: UnitOfWorkFactory, ledger: Ledger
) -> None:
    figures = await figures_of(uow_factory, "township", ledger.world)
    assert [(r.level, r.village) for r in figures.rows] == [
        ("total", ""),
        ("township", ""),
        ("village", "东山村"),
        ("village", "西河村"),
    ]
    total = figures.total
    assert total.children == 11 and total.by_status[C.OUT_OF_SCHOOL_SUSPECTED] == 1
    assert (total.enrolled, total.expected, total.on_roll) == (5, 9, 7)
    assert total.enrolment_rate == pytest.approx(5 / 9)


async def test_a_principal_sees_their_schools_children(
    uow_factory: UnitOfWorkFactory, ledger: Ledger
) -> None:
    async with uow_factory() as uow:
        principal = await uow.directory.staff(ledger.world.staff["principal"].id)
        assert principal is not None
        scope = await scope_for(uow, principal)
    assert sorted(await statuses(uow_factory, scope)) == [f"CC-0{n}" for n in range(1, 9)]
    teacher = Scope(staff_id=1, class_ids=frozenset({ledger.world.class_a.id}))
    assert await statuses(uow_factory, teacher) == {}


async def test_a_case_becoming_a_dropout_moves_its_child_in_the_ledger(
    uow_factory: UnitOfWorkFactory, ledger: Ledger, policy: Policy
) -> None:
    before = (await figures_of(uow_factory, "county", ledger.world)).total
    teacher = ledger.world.staff["teacher_a"].id
    await move_case(uow_factory, policy, ledger.cases["suspected"], S.DROPPED_OUT, actor_id=teacher, now=NOW)
    after = (await figures_of(uow_factory, "county", ledger.world)).total
    assert (before.by_status[C.SUSPECTED], before.by_status[C.DROPPED_OUT]) == (1, 1)
    assert (after.by_status[C.SUSPECTED], after.by_status[C.DROPPED_OUT]) == (0, 2)
    assert after.retention_rate == pytest.approx(5 / 7)
    assert (await statuses(uow_factory, Scope(staff_id=None, everything=True)))["CC-02"] == C.DROPPED_OUT


async def test_without_a_saved_cross_check_there_is_no_ledger(uow_factory: UnitOfWorkFactory) -> None:
    world = await build_world(uow_factory)
    with pytest.raises(NoCrosscheckSaved):
        await figures_of(uow_factory, "county", world)
    async with uow_factory() as uow:  # another county's run is not this county's ledger
        other = Area(code="T-C2", name="邻县", level="county")
        uow.session.add(other)
        await uow.commit()
    await save_run(uow_factory, other.id, [child("CC-01", "present")])
    with pytest.raises(NoCrosscheckSaved):
        await figures_of(uow_factory, "township", world)
