"""A fictional demo county (示例县, Demo County) built through the roster import, plus open cases.

Every name is generated from common surnames and given-name characters; phone numbers are in
the 13800202xxx / 1390026xxxx ranges; ID numbers use region 110101 with invented sequence numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from domain.audit import Actor
from domain.demo_cases import SCENARIOS, make_demo_cases
from domain.errors import DomainError
from domain.people.roles import Role
from domain.people.webauth import reset_demo_login
from domain.policy import Policy
from domain.privacy.identity import id_check_char
from domain.roster.format import AreaRow, ClassRow, RosterData, SchoolRow, StaffRow, StudentRow
from domain.roster.importer import ImportSummary, apply_roster
from storage.media import LocalMediaStore
from storage.models import Area, Staff, Student
from storage.uow import UnitOfWork, UnitOfWorkFactory

DEMO_COUNTY = "DEMO"
DEMO_LOGIN = "demo"  # the demo county officer's dashboard user name
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "子涵宇轩浩然欣怡梓萱俊杰思雨嘉文博涛佳琪泽一诺明雅静晨阳可心天佑若曦志强秀兰建华"
TOWNSHIPS = [
    ("示例东岭镇", ["示例青山村", "示例石桥村", "示例柳塘村"]),
    ("示例西川乡", ["示例河湾村", "示例杏林村", "示例高坡村"]),
]
# (code, name, township index, stage, grades)
SCHOOLS = [
    ("DEMO-S1", "示例东岭镇中心小学", 0, "primary", range(1, 7)),
    ("DEMO-S2", "示例西川乡小学", 1, "primary", range(4, 7)),
    ("DEMO-S3", "示例县第一初级中学", 0, "junior", range(7, 10)),
]
PUPILS_PER_CLASS = 25
GRADE_ZH = "一二三四五六"
FLAGS = [
    "left_behind",
    "low_income",
    "single_parent",
    "migrant_child",
    "learning_difficulty",
    "disabled_child",
]


@dataclass
class DemoStaff:
    id: int
    name: str
    role: str
    phone: str


@dataclass
class DemoSummary:
    """What was created; `already_existed` means the demo county was there and nothing was done."""

    already_existed: bool
    roster: ImportSummary | None = None
    cases: dict[str, int] = field(default_factory=dict)  # status -> number of demo cases
    staff: list[DemoStaff] = field(default_factory=list)


class RealDataPresent(DomainError):
    """The database holds areas outside the demo county: real records, which the demo must not expose."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(
            "the database holds areas outside the demo county (" + ", ".join(codes) + "): the demo runs "
            "on a database of its own only. 数据库中有示例县以外的地区，演示只能使用单独的数据库。"
        )
        self.codes = codes


async def foreign_areas(uow: UnitOfWork, limit: int = 3) -> list[str]:
    """Codes of (up to `limit`) areas that are not the demo county's: DEMO and DEMO-… are, exactly
    (substr, not LIKE, which ignores case on SQLite)."""
    rows = await uow.session.scalars(
        select(Area.code)
        .where(Area.code != DEMO_COUNTY, func.substr(Area.code, 1, len(DEMO_COUNTY) + 1) != DEMO_COUNTY + "-")
        .order_by(Area.code)
        .limit(limit)
    )
    return list(rows)


async def refuse_real_data(uow: UnitOfWork) -> None:
    """Raises RealDataPresent unless every area (if any) belongs to the demo county."""
    if codes := await foreign_areas(uow):
        raise RealDataPresent(codes)


async def demo_login(uow: UnitOfWork, *, now: datetime) -> str | None:
    """A fresh password for the demo county officer's dashboard user; None before demo-data has run."""
    officer = await uow.session.scalar(
        select(Staff)
        .join(Area, Staff.area_id == Area.id)
        .where(Area.code == DEMO_COUNTY, Staff.role == Role.COUNTY_OFFICER.value, Staff.active.is_(True))
        .order_by(Staff.id)
        .limit(1)
    )
    if officer is None:
        return None
    return await reset_demo_login(uow, officer, DEMO_LOGIN, now=now)


def _class_name(grade: int) -> str:
    return f"{GRADE_ZH[grade - 1]}年级(1)班" if grade <= 6 else f"初{GRADE_ZH[grade - 7]}(1)班"


def demo_roster(today: date, seed: int = 2026) -> RosterData:
    """The demo county as in-memory roster rows, deterministic for a seed and school year."""
    rng = random.Random(seed)

    def name() -> str:
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))

    d = RosterData()
    d.areas.append(AreaRow(2, DEMO_COUNTY, "示例县", "county", None))
    villages: list[list[str]] = []
    for t, (township_name, names) in enumerate(TOWNSHIPS, start=1):
        d.areas.append(AreaRow(len(d.areas) + 2, f"DEMO-T{t}", township_name, "township", DEMO_COUNTY))
        villages.append([f"DEMO-T{t}-V{v}" for v in range(1, len(names) + 1)])
        for code, village in zip(villages[-1], names, strict=True):
            d.areas.append(AreaRow(len(d.areas) + 2, code, village, "village", f"DEMO-T{t}"))

    def staff(
        role: Role,
        school: str | None = None,
        area: str | None = None,
        homeroom: str | None = None,
        teaching: tuple[str, ...] = (),
    ) -> None:
        d.staff.append(
            StaffRow(
                len(d.staff) + 2,
                name(),
                f"13800202{len(d.staff) + 1:03d}",
                role,
                school,
                area,
                homeroom,
                teaching,
            )
        )

    school_year = today.year if today.month >= 9 else today.year - 1
    for code, school_name, township, stage, grades in SCHOOLS:
        d.schools.append(SchoolRow(len(d.schools) + 2, code, school_name, f"DEMO-T{township + 1}", stage))
        staff(Role.PRINCIPAL, code)
        homes = [v for t, vs in enumerate(villages) if stage == "junior" or t == township for v in vs]
        for grade in grades:
            cls = _class_name(grade)
            d.classes.append(ClassRow(len(d.classes) + 2, code, grade, cls))
            staff(Role.CLASS_TEACHER, code, homeroom=cls, teaching=(cls,))
            for _ in range(PUPILS_PER_CLASS):
                n = len(d.students) + 1
                sex = rng.choice("MF")
                birth = date(school_year - 5 - grade, 1, 1) + timedelta(days=rng.randrange(365))
                id17 = "110101" + birth.strftime("%Y%m%d") + f"{(2 * n + (sex == 'M')) % 1000:03d}"
                pupil = name()
                d.students.append(
                    StudentRow(
                        n + 1,
                        f"DEMO{school_year}{n:05d}",
                        pupil,
                        sex,
                        birth,
                        code,
                        cls,
                        id17 + id_check_char(id17) if rng.random() < 0.8 else None,
                        rng.choice(homes),
                        pupil[0] + name()[1:],
                        rng.choice(["父亲", "母亲", "祖父", "祖母"]),
                        f"1390026{n:04d}",
                        (rng.choice(FLAGS),) if rng.random() < 0.15 else (),
                    )
                )
        classes = tuple(_class_name(g) for g in grades)
        staff(Role.SUBJECT_TEACHER, code, teaching=classes[: (len(classes) + 1) // 2])
        staff(Role.SUBJECT_TEACHER, code, teaching=classes[(len(classes) + 1) // 2 :])
    for t, vs in enumerate(villages, start=1):
        staff(Role.TOWNSHIP_OFFICER, area=f"DEMO-T{t}")
        for village in vs:
            staff(Role.VILLAGE_CADRE, area=village)
    staff(Role.COUNTY_OFFICER, area=DEMO_COUNTY)
    staff(Role.ADMIN)
    return d


async def _demo_staff(uow: UnitOfWork, data: RosterData) -> list[DemoStaff]:
    rows = await uow.session.scalars(
        select(Staff).where(Staff.phone.in_([s.phone for s in data.staff])).order_by(Staff.id)
    )
    return [DemoStaff(s.id, s.name, s.role, s.phone) for s in rows]


async def _open_cases(
    uow: UnitOfWork,
    data: RosterData,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    rng: random.Random,
    media: LocalMediaStore | None,
) -> dict[str, int]:
    """One case per demo scenario (domain.demo_cases), for pupils drawn at random, each reported by the
    pupil's class teacher."""
    numbers = [s.number for s in rng.sample(data.students, len(SCENARIOS))]
    pupils = {
        s.student_number: s
        for s in await uow.session.scalars(select(Student).where(Student.student_number.in_(numbers)))
    }
    teachers: dict[tuple[str | None, str | None], str] = {
        (r.school_code, r.homeroom_class): r.phone for r in data.staff if r.homeroom_class
    }
    by_phone = {
        s.phone: s for s in await uow.session.scalars(select(Staff).where(Staff.phone.in_(teachers.values())))
    }
    rows = {r.number: r for r in data.students}
    chosen = [(pupils[n], by_phone[teachers[(rows[n].school_code, rows[n].class_name)]]) for n in numbers]
    return await make_demo_cases(uow, chosen, now=now, policy=policy, tz=tz, media=media)


async def create_demo_data(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    seed: int = 2026,
    media: LocalMediaStore | None = None,
) -> DemoSummary:
    """Creates the demo county in one transaction; does nothing if it already exists. Photos of the
    demo's in-person visits go to `media` (the dashboard shows them)."""
    data = demo_roster(now.astimezone(tz).date(), seed)
    async with uow_factory() as uow:
        await refuse_real_data(uow)  # never mix fictional people into a real county's records
        if await uow.directory.area_by_code(DEMO_COUNTY) is not None:
            return DemoSummary(already_existed=True, staff=await _demo_staff(uow, data))
        roster = await apply_roster(uow, data, now=now, actor=Actor.system("demo"))
        cases = await _open_cases(
            uow, data, now=now, policy=policy, tz=tz, rng=random.Random(seed), media=media
        )
        summary = DemoSummary(False, roster, cases, await _demo_staff(uow, data))
        await uow.commit()
    return summary
