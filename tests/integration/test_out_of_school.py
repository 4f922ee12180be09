"""失学 cases on SQLite and PostgreSQL: a child on no school roll is registered, owned by the township
officer with the village cadre, seen only through the village, reminded and escalated without a principal."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from domain.audit import Actor
from domain.casework.cases import change_status
from domain.casework.decisions import NotAllowed
from domain.casework.invariant import silent_cases
from domain.casework.lifecycle import CaseStatus
from domain.casework.visits import ILL, PHONE, VisitReport, record_visit
from domain.errors import InvalidInput, NotInScope
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.privacy.identity import id_check_char
from domain.reminders.planning import replan_all
from domain.reports.quarterly_delivery import export_quarterly_review
from domain.reports.quarterly_review import Period
from domain.reports.stats import Overview, overview
from domain.school_age.enrolment import enrol_child
from domain.school_age.out_of_school import OutOfSchoolChild, open_out_of_school_case
from domain.school_age.out_of_school_figures import TownshipOutOfSchool, out_of_school_figures
from domain.school_age.school_roll import is_placeholder
from storage import outbox
from storage.models import Case, Reminder
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.factories import World, build_world

TZ = ZoneInfo("Asia/Shanghai")
BORN = date(2016, 3, 5)  # 10 on the 2026 cut-off day (31 August)


def national_id(born: date = BORN, serial: str = "123") -> str:
    first17 = f"430521{born:%Y%m%d}{serial}"
    return first17 + id_check_char(first17)


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory) -> World:
    return await build_world(uow_factory)


def child(world: World, **changes: Any) -> OutOfSchoolChild:
    values: dict[str, Any] = {
        "name": "马小花",
        "sex": "F",
        "birth_date": BORN,
        "national_id": national_id(),
        "village_id": world.village_a.id,
        "registered_address": "测试县示范镇东山村三组",
        "current_address": "测试县示范镇东山村五组",
    }
    return OutOfSchoolChild(**(values | changes))


async def open_case(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: Any,
    policy: Policy,
    who: str = "township",
    evidence: dict[str, Any] | None = None,
    **changes: Any,
) -> Case:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        case = await open_out_of_school_case(
            uow,
            Actor(staff.id, f"test:{who}"),
            child(world, **changes),
            now=clock.now(),
            policy=policy,
            tz=TZ,
            evidence=evidence,
            scope=await scope_for(uow, staff),
        )
        await uow.commit()
    return case


async def pending(uow_factory: UnitOfWorkFactory, case_id: int) -> dict[tuple[str, int], Reminder]:
    async with uow_factory() as uow:
        found = await outbox.log(uow.session, Scope(None, everything=True), case_id=case_id, limit=1000)
    return {
        (r.kind, r.recipient_id): r for r, _, _ in found if r.state == "pending" and "#r" not in r.dedupe_key
    }


async def test_a_child_on_no_roll_gets_a_suspected_out_of_school_case_owned_by_the_township(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    evidence = {"run_id": 7, "lists": ["registration:12"]}
    case = await open_case(uow_factory, world, clock, policy, who="county", evidence=evidence)
    assert (case.kind, case.status) == ("out_of_school", "suspected")
    assert case.responsible_teacher_id == world.staff["township"].id
    assert case.responsible_cadre_id == world.staff["cadre_a"].id
    assert case.next_step == "first_visit" and case.next_step_due_at is not None
    async with uow_factory() as uow:
        pupil = await uow.students.get(case.student_id)
        assert pupil is not None
        assert (pupil.school_id, pupil.class_id, pupil.home_village_id) == (None, None, world.village_a.id)
        assert is_placeholder(pupil.student_number)
        events = await uow.cases.events(case.id)
        assert [(e.kind, e.to_status) for e in events] == [
            ("opened", "suspected"),
            ("crosscheck_match", None),
        ]
        assert events[1].data == evidence
        created = [e for e in await uow.audit.entries("create") if e.entity == "case"]
        assert [e.detail for e in created] == [{"kind": "out_of_school"}]
        assert await silent_cases(uow) == []


async def test_the_same_child_is_not_opened_twice(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    first = await open_case(uow_factory, world, clock, policy)
    with pytest.raises(InvalidInput) as refused:
        await open_case(uow_factory, world, clock, policy, name="马小华")
    assert refused.value.code == "out_of_school.error.case_open"
    assert refused.value.params == {"number": first.number}
    async with uow_factory() as uow:
        assert await uow.students.with_national_id(national_id()) != []
        assert len(await uow.students.with_national_id(national_id())) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"birth_date": date(2027, 1, 1), "national_id": None}, "out_of_school.error.birth_in_future"),
        ({"birth_date": date(2021, 1, 1), "national_id": None}, "out_of_school.error.age"),
        ({"birth_date": date(2009, 1, 1), "national_id": None}, "out_of_school.error.age"),
        ({"national_id": national_id()[:17] + "0"}, "out_of_school.error.national_id"),
        ({"national_id": national_id(date(2016, 3, 6))}, "out_of_school.error.id_birth_mismatch"),
        ({"name": "  "}, "out_of_school.error.name"),
    ],
)
async def test_impossible_children_are_refused_and_nothing_is_written(
    uow_factory: UnitOfWorkFactory,
    world: World,
    clock: Any,
    policy: Policy,
    changes: dict[str, Any],
    code: str,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await open_case(uow_factory, world, clock, policy, **changes)
    assert refused.value.code == code
    async with uow_factory() as uow:
        assert await uow.cases.count_by_status() == {}


async def test_a_township_is_not_a_village_and_a_village_elsewhere_is_out_of_scope(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await open_case(uow_factory, world, clock, policy, village_id=world.township.id)
    assert refused.value.code == "out_of_school.error.not_village"
    with pytest.raises(NotInScope):  # the cadre of village A registers for village B
        await open_case(uow_factory, world, clock, policy, who="cadre_a", village_id=world.village_b.id)


async def test_a_child_on_a_roll_is_not_out_of_school(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    async with uow_factory() as uow:
        pupil = await uow.students.get(world.students[0].id)
        assert pupil is not None
        pupil.national_id = national_id()
        await uow.commit()
    with pytest.raises(InvalidInput) as refused:
        await open_case(uow_factory, world, clock, policy)
    assert refused.value.code == "out_of_school.error.on_roll"


async def test_only_the_village_cadre_and_the_officers_above_see_the_child(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    seen = {}
    async with uow_factory() as uow:
        for who in ("teacher_a", "subject", "principal", "cadre_a", "cadre_b", "township", "county", "admin"):
            staff = await uow.directory.staff(world.staff[who].id)
            assert staff is not None
            scope = await scope_for(uow, staff)
            found = await uow.cases.in_scope(scope, case.id)
            listed = [c.id for c in await uow.cases.open_in_scope(scope)]
            pupil = await uow.students.in_scope(scope, case.student_id)
            assert (found is not None) == (case.id in listed) == (pupil is not None), who
            seen[who] = found is not None
            assert scope.sees_student(None, None, world.village_a.id) == seen[who], who
    assert seen == {
        "teacher_a": False,
        "subject": False,
        "principal": False,
        "cadre_a": True,
        "cadre_b": False,
        "township": True,
        "county": True,
        "admin": True,
    }


async def test_reminders_go_to_cadre_and_township_and_escalate_to_the_county_only(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    st = world.staff
    wanted = await pending(uow_factory, case.id)
    assert {k for k in wanted if k[0] != "persuasion_round"} == {
        ("first_visit", st["township"].id),
        ("first_visit", st["cadre_a"].id),
        ("verify", st["township"].id),  # the school's 15-day verification falls to the township
        ("overdue", st["county"].id),
    }
    assert not {k for k in wanted if k[1] in (st["principal"].id, st["teacher_a"].id)}
    assert wanted["first_visit", st["cadre_a"].id].channel == "direct"
    assert wanted["first_visit", st["township"].id].channel == "digest"
    # Nobody visits: past the due day the reminders repeat and the county is told; never a principal.
    clock.advance(timedelta(days=20))
    await replan_all(uow_factory, policy, clock.now(), TZ)
    later = await pending(uow_factory, case.id)
    assert ("overdue", st["county"].id) in later
    assert not {k for k in later if k[1] in (st["principal"].id, st["teacher_a"].id)}
    async with uow_factory() as uow:
        assert await silent_cases(uow) == []


async def test_without_a_township_officer_the_county_owns_the_case(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    async with uow_factory() as uow:
        officer = await uow.directory.staff(world.staff["township"].id)
        assert officer is not None
        officer.active = False
        await uow.commit()
    case = await open_case(uow_factory, world, clock, policy, who="county")
    assert case.responsible_teacher_id == world.staff["county"].id
    assert case.status == CaseStatus.SUSPECTED


async def enrol(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy, case: Case, who: str, **kw: Any
) -> Case:
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff[who].id)
        assert staff is not None
        done = await enrol_child(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, f"test:{who}"),
            staff,
            case.id,
            kw.get("class_id", world.class_a.id),
            kw.get("enrolled_on", clock.now().astimezone(TZ).date()),
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    return done


async def test_enrolment_puts_the_child_on_the_class_roll_and_starts_retention(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    clock.advance(timedelta(days=5))
    done = await enrol(uow_factory, world, clock, policy, case, "township")
    assert done.status == CaseStatus.RETENTION and done.kind == "out_of_school"
    assert done.returned_on == clock.now().astimezone(TZ).date()
    assert done.responsible_teacher_id == world.staff["teacher_a"].id  # the class teacher from now on
    async with uow_factory() as uow:
        pupil = await uow.students.get(case.student_id)
        assert pupil is not None
        assert (pupil.school_id, pupil.class_id) == (world.school.id, world.class_a.id)
        teacher = await uow.directory.staff(world.staff["teacher_a"].id)
        assert teacher is not None
        assert await uow.cases.in_scope(await scope_for(uow, teacher), case.id) is not None
        kinds = [e.kind for e in await uow.cases.events(case.id)]
        assert kinds[-3:] == ["enrolled", "owner_changed", "retention_started"]
        assert await silent_cases(uow) == []
    wanted = await pending(uow_factory, case.id)
    assert ("retention_check", world.staff["teacher_a"].id) in wanted


async def test_enrolment_is_refused_for_a_cadre_a_future_day_and_a_class_elsewhere(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    with pytest.raises(NotAllowed):
        await enrol(uow_factory, world, clock, policy, case, "cadre_a")
    tomorrow = clock.now().astimezone(TZ).date() + timedelta(days=1)
    with pytest.raises(InvalidInput) as refused:
        await enrol(uow_factory, world, clock, policy, case, "township", enrolled_on=tomorrow)
    assert refused.value.code == "out_of_school.error.enrolled_in_future"
    with pytest.raises(InvalidInput) as refused:
        await enrol(uow_factory, world, clock, policy, case, "township", class_id=999_999)
    assert refused.value.code == "out_of_school.error.class"
    async with uow_factory() as uow:
        unchanged = await uow.cases.get(case.id)
        pupil = await uow.students.get(case.student_id)
        assert unchanged is not None and pupil is not None
        assert unchanged.status == "suspected" and pupil.class_id is None


async def test_the_overview_counts_out_of_school_children_apart_from_dropouts(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    async def numbers(who: str) -> Overview:
        async with uow_factory() as uow:
            staff = await uow.directory.staff(world.staff[who].id)
            assert staff is not None
            return await overview(uow, await scope_for(uow, staff), now=clock.now(), tz=TZ)

    before = await numbers("county")
    case = await open_case(uow_factory, world, clock, policy)
    async with uow_factory() as uow:  # confirmed out of school: on the dropout-ledger statuses, not a dropout
        found = await uow.cases.get(case.id)
        assert found is not None
        await change_status(uow, found, CaseStatus.VERIFYING, Actor.system("test"), now=clock.now())
        await change_status(
            uow, found, CaseStatus.DROPPED_OUT, Actor.system("test"), now=clock.now(), policy=policy, tz=TZ
        )
        await uow.commit()
    after = await numbers("county")
    assert (after.out_of_school, after.dropped_out, after.enrolled) == (
        1,
        before.dropped_out,
        before.enrolled,
    )
    assert (await numbers("township")).out_of_school == 1
    assert (await numbers("principal")).out_of_school == 0
    clock.advance(timedelta(days=1))
    await enrol(uow_factory, world, clock, policy, case, "township")
    enrolled = await numbers("county")
    assert (enrolled.out_of_school, enrolled.enrolled) == (0, before.enrolled + 1)


async def test_the_quarterly_review_counts_out_of_school_children_per_township(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy, tmp_path: Path
) -> None:
    period = Period.quarter_of(clock.now().astimezone(TZ).date())
    case = await open_case(uow_factory, world, clock, policy)

    async def figures() -> list[TownshipOutOfSchool]:
        async with uow_factory() as uow:
            staff = await uow.directory.staff(world.staff["county"].id)
            assert staff is not None
            scope = await scope_for(uow, staff)
            return await out_of_school_figures(uow, scope, period.first, period.end, tz=TZ)

    [row] = await figures()
    assert (row.township, row.new, row.enrolled, row.still_out) == ("示范镇", 1, 0, 1)
    clock.advance(timedelta(days=2))
    await enrol(uow_factory, world, clock, policy, case, "township")
    [row] = await figures()
    assert (row.new, row.enrolled, row.still_out) == (1, 1, 0)
    path = tmp_path / "review.xlsx"
    async with uow_factory() as uow:
        staff = await uow.directory.staff(world.staff["county"].id)
        assert staff is not None
        review = await export_quarterly_review(
            uow,
            await scope_for(uow, staff),
            Actor(staff.id, "test"),
            staff,
            period,
            path,
            now=clock.now(),
            tz=TZ,
        )
        await uow.commit()
    # The school's figures do not count the 失学 child, now its pupil, as a suspected dropout.
    assert review.total("new_suspected") == 0
    sheet = load_workbook(path)["失学儿童(按乡镇)"]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert ["示范镇", 1, 1] == values[1][1:4]


async def test_the_village_cadre_records_a_visit_and_the_case_is_being_verified(
    uow_factory: UnitOfWorkFactory, world: World, clock: Any, policy: Policy
) -> None:
    case = await open_case(uow_factory, world, clock, policy)
    async with uow_factory() as uow:
        cadre = await uow.directory.staff(world.staff["cadre_a"].id)
        assert cadre is not None
        report = VisitReport(
            case_id=case.id,
            visited_on=clock.now().astimezone(TZ).date(),
            met="guardian",
            outcome=ILL,
            mode=PHONE,
            visitors=[world.staff["township"].id],
        )
        await record_visit(
            uow,
            await scope_for(uow, cadre),
            Actor(cadre.id, "test:cadre"),
            report,
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.cases.get(case.id)
        assert found is not None and found.status == CaseStatus.VERIFYING
        assert found.next_step == "verify"  # the outcome is the township officer's to decide
    assert ("verify", world.staff["township"].id) in await pending(uow_factory, case.id)
