"""Overview snapshots of large areas: the same numbers as a live count, shown only while fresh."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, report_absence
from domain.clock import FixedClock
from domain.people.scope import scope_for
from domain.policy import Policy
from domain.reports.overview_snapshots import refresh
from domain.reports.stats import Overview, overview
from storage import tallies
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.web.conftest import AsUser
from tests.web.county import TZ, USERS, County

FRESH = timedelta(minutes=11)


async def numbers(
    uow_factory: UnitOfWorkFactory, county: County, who: str, clock: FixedClock, max_age: timedelta | None
) -> Overview:
    async with uow_factory() as uow:
        scope = await scope_for(uow, county.staff[who])
        return await overview(uow, scope, now=clock.now(), tz=TZ, snapshot_max_age=max_age)


async def test_every_coordinators_snapshot_gives_the_live_numbers(
    county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    done = await refresh(uow_factory, now=clock.now(), tz=TZ, live_max_cases=0)
    assert done.scopes == done.stored == len(USERS) + 1  # + the second township's officer
    for who in USERS:
        live = await numbers(uow_factory, county, who, clock, None)
        stored = await numbers(uow_factory, county, who, clock, FRESH)
        assert live.as_of is None and stored.as_of == clock.now()
        assert dataclasses.replace(stored, as_of=None) == live, who
    admin = await numbers(uow_factory, county, "admin", clock, FRESH)
    assert admin.by_status == {"retention": 1, "absent": 1, "notice_issued": 1, "closed": 1, "suspected": 1}
    assert admin.enrolled == 9 and admin.dropped_out == 1 and admin.overdue_total == 3


async def test_a_case_one_is_responsible_for_outside_ones_area_counts_in_both(
    county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        case = await uow.cases.get(county.cases["B"])  # school 1, overdue
        assert case is not None
        case.responsible_teacher_id = county.staff["other_principal"].id  # a principal of school 2
        await uow.commit()
    await refresh(uow_factory, now=clock.now(), tz=TZ, live_max_cases=0)
    live = await numbers(uow_factory, county, "other_principal", clock, None)
    stored = await numbers(uow_factory, county, "other_principal", clock, FRESH)
    assert dataclasses.replace(stored, as_of=None) == live
    assert live.by_status == {"suspected": 1, "absent": 1}
    assert [name for _, name, _ in live.overdue_by_school] == ["北岭中学", "示范镇中心小学"]
    assert live.enrolled == 1 and live.dropped_out == 0  # the retention rate counts the own school's pupils


async def test_a_snapshot_too_old_gives_way_to_a_live_count(
    county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock, policy: Policy
) -> None:
    await refresh(uow_factory, now=clock.now(), tz=TZ, live_max_cases=0)
    async with uow_factory() as uow:  # a new case after the snapshot
        await report_absence(
            uow,
            Scope(staff_id=None, everything=True),
            Actor.system("test"),
            AbsenceReport(county.world.students[2].id, date(2026, 10, 12)),
            now=clock.now(),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
    assert (await numbers(uow_factory, county, "county", clock, FRESH)).open_total == 4  # as of the snapshot
    clock.advance(FRESH + timedelta(seconds=1))
    later = await numbers(uow_factory, county, "county", clock, FRESH)
    assert later.as_of is None and later.open_total == 5
    assert (await numbers(uow_factory, county, "county", clock, None)).open_total == 5


async def test_only_scopes_above_the_live_limit_are_stored(
    county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    await refresh(uow_factory, now=clock.now(), tz=TZ, live_max_cases=0)
    done = await refresh(uow_factory, now=clock.now(), tz=TZ, live_max_cases=4)  # admin and county: 5 cases
    assert done.stored == 2
    async with uow_factory() as uow:
        stored = set(await tallies.snapshot_keys(uow.session))
        county_scope = await scope_for(uow, county.staff["county"])
        assert len(stored) == 2 and "everything" in stored
    assert (await numbers(uow_factory, county, "principal", clock, FRESH)).as_of is None  # 4 cases: live
    assert (await numbers(uow_factory, county, "county", clock, FRESH)).as_of == clock.now()
    assert not county_scope.everything


async def test_the_overview_page_says_as_of_when_it_shows_a_snapshot(
    as_user: AsUser, county: County, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    client = await as_user("county")
    assert 'id="as-of"' not in (await client.get("/dashboard")).text
    await refresh(uow_factory, now=clock.now(), tz=TZ, live_max_cases=0)
    page = (await client.get("/dashboard")).text
    assert 'id="as-of"' in page and "2026-10-13 09:00" in page
    assert "示范镇中心小学" in page and "北岭中学" in page
