"""Province and city levels in the roster (SQLite and PostgreSQL): the tree imports, wrong parents are
refused, scope moves between cities are refused, and a city officer sees exactly its counties."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from domain.audit import Actor
from domain.clock import FixedClock
from domain.people.roles import Role
from domain.people.scope import scope_for
from domain.roster.importer import RosterInvalid, import_roster
from storage.models import Area, School, Staff
from storage.uow import UnitOfWorkFactory
from tests.fixtures.roster import Sheets, write_xlsx


def province_sheets() -> Sheets:
    """Province P: city C1 with counties K1 and K2, city C2 with county K3; one township, village and
    school per county; a city officer of C1 and a province officer."""
    areas: list[list[object]] = [
        ["编码", "名称", "级别", "上级编码"],
        ["P", "测试省", "省", None],
        ["C1", "一市", "市", "P"],
        ["C2", "二市", "city", "P"],
    ]
    schools: list[list[object]] = [["学校编码", "学校名称", "所属乡镇编码", "学段"]]
    for county, city in (("K1", "C1"), ("K2", "C1"), ("K3", "C2")):
        areas += [
            [county, f"{county}县", "县", city],
            [f"{county}T", f"{county}镇", "乡镇", county],
            [f"{county}V", f"{county}村", "村", f"{county}T"],
        ]
        schools.append([f"{county}S", f"{county}小学", f"{county}T", "小学"])
    return {
        "区域": areas,
        "学校": schools,
        "教职工": [
            ["姓名", "手机号", "角色", "学校编码", "负责区域编码"],
            ["市局专干", "13800000021", "市教育局", None, "C1"],
            ["省厅专干", "13800000022", "province officer", None, "P"],
            ["县局专干", "13800000023", "县教育局", None, "K3"],
        ],
    }


async def _import(uow_factory: UnitOfWorkFactory, clock: FixedClock, path: Path) -> object:
    return await import_roster(uow_factory, [path], now=clock.now(), actor=Actor.system("cli"))


async def _refused(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, sheets: Sheets, tmp_path: Path
) -> list[str]:
    with pytest.raises(RosterInvalid) as refused:
        await _import(uow_factory, clock, write_xlsx(tmp_path / "refused.xlsx", sheets))
    return [str(p) for p in refused.value.problems]


async def test_a_province_with_cities_and_counties_imports(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    await _import(uow_factory, clock, write_xlsx(tmp_path / "p.xlsx", province_sheets()))
    async with uow_factory() as uow:
        areas = {a.code: a for a in (await uow.session.scalars(select(Area))).all()}
        ids = {a.id: a.code for a in areas.values()}
        people = {s.phone: s for s in (await uow.session.scalars(select(Staff))).all()}
    assert {c: (a.level, ids.get(a.parent_id or 0)) for c, a in areas.items() if len(c) <= 2} == {
        "P": ("province", None),
        "C1": ("city", "P"),
        "C2": ("city", "P"),
        "K1": ("county", "C1"),
        "K2": ("county", "C1"),
        "K3": ("county", "C2"),
    }
    assert (people["13800000021"].role, people["13800000021"].area_id) == (Role.CITY_OFFICER, areas["C1"].id)
    assert (people["13800000022"].role, people["13800000022"].area_id) == (
        Role.PROVINCE_OFFICER,
        areas["P"].id,
    )
    # Imported again: nothing changes.
    summary = await _import(uow_factory, clock, write_xlsx(tmp_path / "p.xlsx", province_sheets()))
    assert not any(summary.created.values()) and not any(summary.updated.values())  # type: ignore[attr-defined]


async def test_a_city_officer_sees_the_schools_of_its_counties_only(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    await _import(uow_factory, clock, write_xlsx(tmp_path / "p.xlsx", province_sheets()))
    async with uow_factory() as uow:
        schools = {s.id: s.code for s in (await uow.session.scalars(select(School))).all()}
        people = {s.phone: s for s in (await uow.session.scalars(select(Staff))).all()}
        city = await scope_for(uow, people["13800000021"])
        province = await scope_for(uow, people["13800000022"])
        county = await scope_for(uow, people["13800000023"])
    assert {schools[i] for i in city.school_ids} == {"K1S", "K2S"}
    assert {schools[i] for i in province.school_ids} == {"K1S", "K2S", "K3S"}
    assert {schools[i] for i in county.school_ids} == {"K3S"}
    assert not city.everything and not province.everything


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["CX", "错市", "市", "K1"], "a province is needed here"),  # a city under a county
        (["KX", "错县", "县", "K1T"], "a city is needed here"),  # a county in a township
        (["PX", "错省", "省", "P"], "a province has no parent"),
        (["TX", "错镇", "乡镇", "C1"], "a county is needed here"),  # a township right under a city
    ],
    ids=["city-under-county", "county-under-township", "province-with-parent", "township-under-city"],
)
async def test_an_area_under_the_wrong_level_is_refused(
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
    tmp_path: Path,
    row: list[object],
    expected: str,
) -> None:
    sheets = province_sheets()
    sheets["区域"].append(row)
    problems = await _refused(uow_factory, clock, sheets, tmp_path)
    where = f"区域/{len(sheets['区域'])}/上级编码"
    assert [p.split(":")[0] for p in problems] == [where] and expected in problems[0], problems
    async with uow_factory() as uow:
        assert (await uow.session.scalars(select(Area))).first() is None  # all or nothing


async def test_a_city_officer_must_name_a_city(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    sheets = province_sheets()
    sheets["教职工"][1][4] = "K1"
    problems = await _refused(uow_factory, clock, sheets, tmp_path)
    assert problems == [p for p in problems if p.startswith("教职工/2/负责区域编码")] and problems
    assert "a city is needed here" in problems[0]


async def test_counties_join_a_city_but_do_not_move_between_cities(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, tmp_path: Path
) -> None:
    # A deployment that began as one county without a parent...
    alone = province_sheets()
    alone["区域"] = [r for r in alone["区域"] if r[0] not in ("P", "C1", "C2")]
    for r in alone["区域"][1:]:
        if r[2] == "县":
            r[3] = None
    alone["教职工"] = [alone["教职工"][0], alone["教职工"][3]]
    await _import(uow_factory, clock, write_xlsx(tmp_path / "alone.xlsx", alone))
    # ...is placed in a province and its cities later: nobody's scope shrinks.
    await _import(uow_factory, clock, write_xlsx(tmp_path / "p.xlsx", province_sheets()))

    moved = province_sheets()
    moved["区域"][4][3] = "C2"  # K1 into the other city
    problems = await _refused(uow_factory, clock, moved, tmp_path)
    assert [p.split(":")[0] for p in problems] == ["区域/5/上级编码"] and "C2" in problems[0], problems
    assert "another city's scope" in problems[0]

    detached = province_sheets()
    detached["区域"][7][3] = None  # K2 taken out of its city by an old county-only file
    problems = await _refused(uow_factory, clock, detached, tmp_path)
    assert [p.split(":")[0] for p in problems] == ["区域/8/上级编码"] and "out of its city" in problems[0]

    demoted = province_sheets()
    demoted["区域"][2][2] = "县"  # a city made a county
    problems = await _refused(uow_factory, clock, demoted, tmp_path)
    assert any(p.startswith("区域/3/级别") for p in problems), problems

    async with uow_factory() as uow:
        k1 = await uow.directory.area_by_code("K1")
        c1 = await uow.directory.area_by_code("C1")
        assert k1 is not None and c1 is not None and k1.parent_id == c1.id
