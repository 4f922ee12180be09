"""The known county (tests/web/county.py) placed in a province, for the term and year reviews:

测试省 (province) ─ 测试市 (city) ─ 测试县 (the known county: 示范镇中心小学, 北岭中学)
                 │               └ 邻县 ─ 邻县镇 ─ 邻县小学: pupil K, suspected 10-02 → verifying 10-06
                 └ 另一市 (city) ─ 远县 ─ 远县镇 ─ 远县小学: pupil R, suspected 10-05

A city officer of 测试市 (login "city") and a province officer (login "province") with dashboard logins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, change_status, report_absence
from domain.casework.lifecycle import CaseStatus
from domain.people.roles import Role
from domain.people.webauth import create_user
from domain.policy import Policy
from storage.models import Area, School, SchoolClass, Staff, Student
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.factories import CREATED
from tests.web.county import PASSWORD, TZ, County, at


@dataclass
class Province:
    county: County
    province: Area
    city: Area
    other_city: Area
    neighbour: Area  # 邻县, in the same city as the known county
    far: Area  # 远县, in the other city
    schools: dict[str, School]
    staff: dict[str, Staff]


async def _county(
    uow_factory: UnitOfWorkFactory, key: str, name: str, city: Area, pupil: str, phone: str
) -> tuple[Area, School, Student]:
    """A county with one township, one school (with a principal) and one pupil."""
    async with uow_factory() as uow:
        s = uow.session
        county = Area(code=f"P-{key}", name=name, level="county", parent_id=city.id)
        s.add(county)
        await s.flush()
        township = Area(code=f"P-{key}-T", name=f"{name}镇", level="township", parent_id=county.id)
        s.add(township)
        await s.flush()
        school = School(code=f"P-{key}-S", name=f"{name}小学", area_id=township.id, stage="primary")
        s.add(school)
        await s.flush()
        cls = SchoolClass(school_id=school.id, grade=4, name="四年级(1)班")
        s.add(cls)
        await s.flush()
        student = Student(
            student_number=f"L2026P{key}001",
            name=pupil,
            sex="M",
            birth_date=date(2016, 5, 1),
            school_id=school.id,
            class_id=cls.id,
        )
        principal = Staff(
            name=f"{name}校长",
            phone=phone,
            role=Role.PRINCIPAL.value,
            school_id=school.id,
            created_at=CREATED,
        )
        principal.active = True
        s.add_all([student, principal])
        await uow.commit()
    return county, school, student


async def _suspected(uow_factory: UnitOfWorkFactory, policy: Policy, student: Student, day: str) -> int:
    async with uow_factory() as uow:
        case, _ = await report_absence(
            uow,
            Scope(staff_id=None, everything=True),
            Actor.system("test"),
            AbsenceReport(student.id, date.fromisoformat(f"2026-{day}"), suspected=True),
            now=at(day),
            policy=policy,
            tz=TZ,
        )
        await uow.commit()
        return case.id


async def build_province(uow_factory: UnitOfWorkFactory, policy: Policy, county: County) -> Province:
    async with uow_factory() as uow:
        s = uow.session
        province = Area(code="P", name="测试省", level="province")
        s.add(province)
        await s.flush()
        city = Area(code="P-C1", name="测试市", level="city", parent_id=province.id)
        other = Area(code="P-C2", name="另一市", level="city", parent_id=province.id)
        s.add_all([city, other])
        await s.flush()
        known = await s.get(Area, county.world.county.id)
        assert known is not None
        known.parent_id = city.id
        await uow.commit()
    neighbour, school_k, pupil_k = await _county(uow_factory, "K", "邻县", city, "郑小邻", "13800000031")
    far, school_r, pupil_r = await _county(uow_factory, "R", "远县", other, "冯小远", "13800000032")
    k = await _suspected(uow_factory, policy, pupil_k, "10-02")
    await _suspected(uow_factory, policy, pupil_r, "10-05")
    async with uow_factory() as uow:
        case = await uow.cases.get(k)
        assert case is not None
        await change_status(uow, case, CaseStatus.VERIFYING, Actor.system("test"), now=at("10-06"))
        people = {
            "city": Staff(
                name="市局专干",
                phone="13800000033",
                role=Role.CITY_OFFICER.value,
                area_id=city.id,
                created_at=CREATED,
            ),
            "province": Staff(
                name="省厅专干",
                phone="13800000034",
                role=Role.PROVINCE_OFFICER.value,
                area_id=province.id,
                created_at=CREATED,
            ),
        }
        for person in people.values():
            person.active = True
        uow.session.add_all(people.values())
        await uow.session.flush()
        for key, person in people.items():
            await create_user(uow, person, key, PASSWORD, now=CREATED)
        await uow.commit()
    schools = {
        "示范镇中心小学": county.world.school,
        "北岭中学": county.school2,
        "邻县小学": school_k,
        "远县小学": school_r,
    }
    return Province(county, province, city, other, neighbour, far, schools, people)
