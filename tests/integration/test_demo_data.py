"""Demo county: built through the roster import, opens cases in many statuses, runs once only."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from domain.casework.invariant import silent_cases
from domain.clock import FixedClock
from domain.demo import DEMO_COUNTY, create_demo_data, demo_roster
from domain.demo_cases import SCENARIOS
from domain.people.roles import Role
from domain.policy import Policy
from domain.privacy.identity import is_valid_id
from storage.models import Area, Case, CaseEvent, School, SchoolClass, Staff, Student, StudentFlag
from storage.uow import UnitOfWorkFactory

TZ = ZoneInfo("Asia/Shanghai")
TABLES = (Area, School, SchoolClass, Staff, Student, StudentFlag, Case, CaseEvent)


async def _counts(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    async with uow_factory() as uow:
        return {
            t.__tablename__: int(await uow.session.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }


# The demo is one standalone county (as most deployments are): every role but the city's and province's.
ABOVE_COUNTY = {Role.CITY_OFFICER, Role.PROVINCE_OFFICER}


def test_demo_rows_are_fictional_and_deterministic(clock: FixedClock) -> None:
    today = clock.now().astimezone(TZ).date()
    a, b = demo_roster(today), demo_roster(today)
    assert a.students == b.students and a.staff == b.staff
    assert all(s.phone.startswith("13800202") for s in a.staff)
    assert all(s.national_id is None or is_valid_id(s.national_id) for s in a.students)
    assert all(s.national_id is None or s.national_id.startswith("110101") for s in a.students)
    assert {s.role for s in a.staff} == set(Role) - ABOVE_COUNTY


async def test_demo_county_once(uow_factory: UnitOfWorkFactory, clock: FixedClock, policy: Policy) -> None:
    first = await create_demo_data(uow_factory, now=clock.now(), policy=policy, tz=TZ)
    assert not first.already_existed and first.roster is not None
    assert first.roster.created == {
        "areas": 9,
        "schools": 3,
        "classes": 12,
        "staff": len(first.staff),
        "students": 300,
    }
    assert {s.role for s in first.staff} == {r.value for r in set(Role) - ABOVE_COUNTY}
    assert sum(first.cases.values()) == len(SCENARIOS)
    # Made through the use cases only, the demo still shows every stage of the lifecycle.
    assert {
        "absent",
        "suspected",
        "verifying",
        "cleared",
        "missing",
        "dropped_out",
        "persuading",
        "notice_issued",
        "escalated",
        "retention",
        "closed",
    } <= set(first.cases)
    counts = await _counts(uow_factory)
    assert counts["cases"] == len(SCENARIOS) and counts["student_flags"] > 0

    second = await create_demo_data(uow_factory, now=clock.now(), policy=policy, tz=TZ)
    assert second.already_existed and second.roster is None
    assert [s.id for s in second.staff] == [s.id for s in first.staff]
    assert await _counts(uow_factory) == counts
    async with uow_factory() as uow:
        county = await uow.directory.area_by_code(DEMO_COUNTY)
        assert county is not None and county.name == "示例县"
        statuses = await uow.cases.count_by_status()
    assert statuses == first.cases
    async with uow_factory() as uow:  # no demo case has gone silent (notoneless doctor is clean)
        assert await silent_cases(uow) == []
        events = {e.kind for e in (await uow.session.scalars(select(CaseEvent))).all()}
    assert {
        "cleared",
        "marked_missing",
        "notice_expired",
        "reported",
        "compliance_ordered",
        "closing_proposed",
        "closing_approved",
        "deferred",
        "classified",
        "visit_logged",
        "return_confirmed",
    } <= events
