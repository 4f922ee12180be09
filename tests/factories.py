"""A small fictional county for tests: areas, a school with two classes, staff of every role, pupils."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from domain.casework.steps import CaseFacts
from domain.people.roles import Role
from domain.policy import Policy
from domain.reminders.facts import people_around
from domain.reminders.quiet_hours import next_allowed
from domain.reminders.rules import desired_reminders
from storage.models import (
    Area,
    Case,
    CaseEvent,
    Reminder,
    School,
    SchoolClass,
    Staff,
    Student,
    TeachingAssignment,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

CREATED = datetime(2026, 8, 20, tzinfo=UTC)


@dataclass
class World:
    county: Area
    township: Area
    village_a: Area
    village_b: Area
    school: School
    class_a: SchoolClass
    class_b: SchoolClass
    staff: dict[str, Staff] = field(default_factory=dict)
    students: list[Student] = field(default_factory=list)

    def student_in(self, cls: SchoolClass) -> Student:
        return next(s for s in self.students if s.class_id == cls.id)


def _staff(uow: UnitOfWork, name: str, phone: str, role: Role, **kw: object) -> Staff:
    row = Staff(name=name, phone=phone, role=role.value, created_at=CREATED, active=True, **kw)
    uow.session.add(row)
    return row


async def build_world(uow_factory: UnitOfWorkFactory, pupils_per_class: int = 4) -> World:
    """Creates and commits the fictional county; returns the rows (detached, ids filled)."""
    async with uow_factory() as uow:
        s = uow.session
        county = Area(code="T-C", name="测试县", level="county")
        s.add(county)
        await s.flush()
        township = Area(code="T-T", name="示范镇", level="township", parent_id=county.id)
        s.add(township)
        await s.flush()
        va = Area(code="T-VA", name="东山村", level="village", parent_id=township.id)
        vb = Area(code="T-VB", name="西河村", level="village", parent_id=township.id)
        s.add_all([va, vb])
        school = School(code="T-S1", name="示范镇中心小学", area_id=township.id, stage="primary")
        s.add(school)
        await s.flush()
        ca = SchoolClass(school_id=school.id, grade=5, name="五年级(1)班")
        cb = SchoolClass(school_id=school.id, grade=5, name="五年级(2)班")
        s.add_all([ca, cb])
        await s.flush()
        world = World(county, township, va, vb, school, ca, cb)
        st = world.staff
        st["teacher_a"] = _staff(uow, "王老师", "13800000001", Role.CLASS_TEACHER, school_id=school.id)
        st["teacher_b"] = _staff(uow, "李老师", "13800000002", Role.CLASS_TEACHER, school_id=school.id)
        st["subject"] = _staff(uow, "赵老师", "13800000003", Role.SUBJECT_TEACHER, school_id=school.id)
        st["principal"] = _staff(uow, "陈校长", "13800000004", Role.PRINCIPAL, school_id=school.id)
        st["cadre_a"] = _staff(uow, "刘主任", "13800000005", Role.VILLAGE_CADRE, area_id=va.id)
        st["cadre_b"] = _staff(uow, "孙主任", "13800000006", Role.VILLAGE_CADRE, area_id=vb.id)
        st["township"] = _staff(uow, "周专干", "13800000007", Role.TOWNSHIP_OFFICER, area_id=township.id)
        st["county"] = _staff(uow, "吴科长", "13800000008", Role.COUNTY_OFFICER, area_id=county.id)
        st["admin"] = _staff(uow, "郑管理员", "13800000009", Role.ADMIN)
        await s.flush()
        s.add_all(
            [
                TeachingAssignment(staff_id=st["teacher_a"].id, class_id=ca.id, is_class_teacher=True),
                TeachingAssignment(staff_id=st["teacher_b"].id, class_id=cb.id, is_class_teacher=True),
                TeachingAssignment(staff_id=st["subject"].id, class_id=ca.id, is_class_teacher=False),
                TeachingAssignment(staff_id=st["subject"].id, class_id=cb.id, is_class_teacher=False),
            ]
        )
        surnames = "张王李赵刘陈杨黄周吴"
        n = 0
        for cls, village in ((ca, va), (cb, vb)):
            for i in range(pupils_per_class):
                n += 1
                world.students.append(
                    Student(
                        student_number=f"L2026{n:08d}",
                        name=f"{surnames[n % 10]}小{'一二三四五六七八九十'[i % 10]}",
                        sex="M" if n % 2 else "F",
                        birth_date=date(2015, 1 + n % 12, 1 + n % 27),
                        school_id=school.id,
                        class_id=cls.id,
                        home_village_id=village.id,
                        guardian_name="测试家长",
                        guardian_relation="父亲",
                        guardian_phone=f"139000000{n:02d}",
                    )
                )
        s.add_all(world.students)
        await uow.commit()
    return world


async def add_absent_caseload(
    uow: UnitOfWork, world: World, *, teachers: int, per_teacher: int, tag: str, opened: datetime
) -> tuple[list[Staff], list[Case]]:
    """Bulk set-up for volume tests: `teachers` class teachers of the world's school, each responsible
    for `per_teacher` absent cases opened at `opened`. `tag` (one letter) keeps numbers and phones apart."""
    phone_prefix = {"R": "136", "B": "137"}.get(tag, "135")
    staff = [
        Staff(
            name=f"教师{n}",
            phone=f"{phone_prefix}{n:08d}",
            role="class_teacher",
            school_id=world.school.id,
            created_at=opened,
            active=True,
        )
        for n in range(teachers)
    ]
    uow.session.add_all(staff)
    pupils = [
        Student(
            student_number=f"{tag}{n:010d}",
            name=f"学生{n}",
            sex="F",
            birth_date=date(2015, 1, 1),
            school_id=world.school.id,
            class_id=world.class_a.id,
        )
        for n in range(teachers * per_teacher)
    ]
    uow.session.add_all(pupils)
    await uow.flush()
    cases = [
        Case(
            number=f"{tag}-{n:06d}",
            student_id=p.id,
            status="absent",
            opened_at=opened,
            updated_at=opened,
            responsible_teacher_id=staff[n % teachers].id,
            first_absent_on=opened.date(),
            # What planning records (domain.casework.steps): the first visit is due 3 days after the report.
            next_step="first_visit",
            next_step_due_at=opened + timedelta(days=3),
        )
        for n, p in enumerate(pupils)
    ]
    uow.session.add_all(cases)
    await uow.flush()
    uow.session.add_all(
        [
            CaseEvent(
                case_id=c.id,
                kind="opened",
                occurred_at=opened,
                recorded_at=opened,
                to_status="absent",
                data={},
            )
            for c in cases
        ]
    )
    return staff, cases


async def add_overdue_caseload(
    uow: UnitOfWork,
    world: World,
    policy: Policy,
    tz: ZoneInfo,
    *,
    teachers: int,
    per_teacher: int,
    now: datetime,
) -> list[Staff]:
    """`add_absent_caseload` with the reminders planning would write for those cases (computed by the
    same rules, domain.reminders, inserted in bulk to keep the set-up short); returns the teachers."""
    staff, cases = await add_absent_caseload(
        uow, world, teachers=teachers, per_teacher=per_teacher, tag="B", opened=now
    )
    people = await people_around(uow, world.school.id)
    roles = {i: role for role, ids in people.items() for i in ids}
    rows = []
    for case in cases:
        assert case.responsible_teacher_id is not None
        facts = CaseFacts(
            case_id=case.id,
            status="absent",
            category_scheme=None,
            episode_start=now,
            status_since=now,
            verification_due_at=None,
            term_start=None,
            notice_at=None,
            return_due_at=None,
            returned_on=None,
            retention_checks_done=0,
            teacher_id=case.responsible_teacher_id,
            people=people,
            roles={**roles, case.responsible_teacher_id: "class_teacher"},
        )
        rows += [
            {
                "kind": w.kind,
                "case_id": w.case_id,
                "recipient_id": w.recipient_id,
                "due_at": w.due_at,
                "send_after": next_allowed(w.due_at, policy, tz),
                "dedupe_key": w.key,
                "channel": w.channel,
                "payload": w.payload,
                "created_at": now,
                "state": "pending",
                "attempts": 0,
                "snoozes": 0,
            }
            for w in desired_reminders(facts, policy, tz, now)
        ]
    await uow.session.execute(insert(Reminder), rows)
    return staff
