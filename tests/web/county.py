"""A known county for dashboard tests: two townships, two schools, five cases with known histories.

School 1 (示范镇中心小学, township 示范镇), clock 2026-10-13 09:00 Beijing:
- A (class a): suspected 09-10 → verifying 09-15 → dropped out 09-20 → visit 09-22 → persuading;
  visit 10-05 → returned 10-08 → retention. One photo.
- B (class b): absent 10-09 (visit due 10-12: overdue). One reminder sent.
- C (class a): suspected 09-25 → dropped out 10-02 → visit 10-03 with notice → persuading → notice
  issued (return due 10-10: overdue).
- D (class b): absent 09-02 → cleared 09-03 → closed 09-10.
School 2 (北岭中学, township 北岭镇): E, suspected 10-01 (verification due 09-16: overdue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor
from domain.casework.cases import AbsenceReport, add_event, change_status, report_absence
from domain.casework.lifecycle import CaseStatus as S
from domain.people.roles import Role
from domain.people.webauth import create_user
from domain.photos.processing import PhotoPolicy, WatermarkInfo, process_photo
from domain.policy import Policy
from sandbox.files import make_test_image
from storage.media import LocalMediaStore
from storage.models import Area, Attachment, ChannelAccount, Reminder, School, SchoolClass, Staff, Student
from storage.scope import Scope
from storage.uow import UnitOfWorkFactory
from tests.factories import CREATED, World, build_world

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"
USERS = {
    "principal": "principal",
    "township": "township",
    "county": "county",
    "admin": "admin",
    "other_principal": "other_principal",
}


def at(day: str, hour: int = 10) -> datetime:
    """A Beijing wall-clock moment of 2026 (e.g. at("09-10")) as an aware datetime."""
    return datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00").replace(tzinfo=TZ).astimezone(UTC)


@dataclass
class County:
    world: World
    school2: School
    township2: Area
    staff: dict[str, Staff]
    cases: dict[str, int] = field(default_factory=dict)
    students: dict[str, Student] = field(default_factory=dict)
    attachment_id: int = 0
    evidence: bytes = b""


async def _second_township(
    uow_factory: UnitOfWorkFactory, world: World
) -> tuple[Area, School, Student, dict[str, Staff]]:
    async with uow_factory() as uow:
        s = uow.session
        township = Area(code="T-T2", name="北岭镇", level="township", parent_id=world.county.id)
        s.add(township)
        await s.flush()
        village = Area(code="T-V2", name="北岭村", level="village", parent_id=township.id)
        school = School(code="T-S2", name="北岭中学", area_id=township.id, stage="junior")
        s.add_all([village, school])
        await s.flush()
        cls = SchoolClass(school_id=school.id, grade=7, name="七年级(1)班")
        s.add(cls)
        await s.flush()
        pupil = Student(
            student_number="G110101201201011234",
            name="钱小北",
            sex="F",
            birth_date=date(2012, 1, 1),
            national_id="110101201201011234",
            school_id=school.id,
            class_id=cls.id,
            home_village_id=village.id,
            guardian_name="钱家长",
            guardian_relation="母亲",
            guardian_phone="13912345678",
        )
        people = {
            "other_principal": Staff(
                name="孙校长",
                phone="13800000010",
                role=Role.PRINCIPAL.value,
                school_id=school.id,
                created_at=CREATED,
                active=True,
            ),
            "other_township": Staff(
                name="冯专干",
                phone="13800000011",
                role=Role.TOWNSHIP_OFFICER.value,
                area_id=township.id,
                created_at=CREATED,
                active=True,
            ),
        }
        s.add_all([pupil, *people.values()])
        await uow.commit()
    return township, school, pupil, people


async def _history(uow_factory: UnitOfWorkFactory, county: County, policy: Policy) -> None:
    w, st = county.world, county.staff
    a, c = w.students[0], w.students[1]
    b, d = w.students[4], w.students[5]
    county.students.update(A=a, B=b, C=c, D=d)
    teacher_a = Actor(staff_id=st["teacher_a"].id, label="telegram:1")
    teacher_b = Actor(staff_id=st["teacher_b"].id, label="telegram:2")

    async def open_case(
        key: str,
        student: Student,
        actor: Actor,
        since: str,
        now: datetime,
        reason: str | None = None,
        flags: tuple[str, ...] = (),
    ) -> None:
        async with uow_factory() as uow:
            case, _ = await report_absence(
                uow,
                Scope(staff_id=actor.staff_id, everything=True),
                actor,
                AbsenceReport(
                    student.id, date.fromisoformat(f"2026-{since}"), reason_code=reason, flags=list(flags)
                ),
                now=now,
                policy=policy,
                tz=TZ,
            )
            await uow.commit()
            county.cases[key] = case.id

    async def move(key: str, target: S, now: datetime, actor: Actor) -> None:
        async with uow_factory() as uow:
            case = await uow.cases.get(county.cases[key])
            assert case is not None
            if target is S.NOTICE_ISSUED:
                case.return_due_at = policy.return_due(now)
            if target is S.RETURNED:
                case.returned_on = now.astimezone(TZ).date()
            # Planned as the use cases plan: the case's next step (and so "overdue") is kept on the case.
            await change_status(uow, case, target, actor, now=now, policy=policy, tz=TZ)
            await uow.commit()

    async def visit(key: str, day: str, actor: Actor, outcome: str, **extra: Any) -> None:
        async with uow_factory() as uow:
            case = await uow.cases.get(county.cases[key])
            assert case is not None
            add_event(
                uow,
                case,
                "visit_logged",
                actor,
                at(day, 18),
                occurred_at=at(day, 12),
                visited_on=f"2026-{day}",
                visitors=[actor.staff_id, case.responsible_cadre_id],
                met="guardian",
                outcome=outcome,
                notice_served=bool(extra.pop("notice_served", False)),
                location={"lat": 25.0, "lon": 102.7},
                note=extra.pop("note", None),
                **extra,
            )
            await uow.commit()

    await open_case("D", d, teacher_b, "09-01", at("09-02"))
    await move("D", S.CLEARED, at("09-03"), teacher_b)
    await move("D", S.CLOSED, at("09-10"), teacher_b)
    await open_case("A", a, teacher_a, "09-03", at("09-10"), reason="A2", flags=("left_behind",))
    await move("A", S.VERIFYING, at("09-15"), teacher_a)
    await move("A", S.DROPPED_OUT, at("09-20"), teacher_a)
    await visit("A", "09-22", teacher_a, "refused", note="家长外出务工")
    await move("A", S.PERSUADING, at("09-22", 18), teacher_a)
    await open_case("C", c, teacher_a, "09-20", at("09-25"), flags=("low_income",))
    await move("C", S.DROPPED_OUT, at("10-02"), teacher_a)
    await visit("C", "10-03", teacher_a, "refused", notice_served=True)
    await move("C", S.PERSUADING, at("10-03", 18), teacher_a)
    await move("C", S.NOTICE_ISSUED, at("10-03", 18), teacher_a)
    await visit("A", "10-05", teacher_a, "agreed_to_return", promised_return_on="2026-10-08")
    await move("A", S.RETURNED, at("10-08"), teacher_a)
    await move("A", S.RETENTION, at("10-08"), teacher_a)
    await open_case("B", b, teacher_b, "10-08", at("10-09", 9))


def _send_after(moment: datetime) -> dict[str, datetime]:
    """Migration 0004 (reminder delivery, issue 5) adds reminders.send_after; older schemas lack it."""
    return {"send_after": moment} if hasattr(Reminder, "send_after") else {}


async def _photo_and_reminder(uow_factory: UnitOfWorkFactory, county: County, media_dir: Path) -> None:
    store = LocalMediaStore(media_dir)
    photo = process_photo(
        make_test_image(800, 600),
        visit=WatermarkInfo(at("10-05", 12), "东山村", "A", "王老师"),
        policy=PhotoPolicy(tz=TZ),
    )
    await store.put(photo.evidence_bytes)
    await store.put(photo.thumbnail_bytes)
    county.evidence = photo.evidence_bytes
    async with uow_factory() as uow:
        row = Attachment(
            case_id=county.cases["A"],
            uploaded_by_id=county.staff["teacher_a"].id,
            created_at=at("10-05", 18),
            source_file_ref="demo",
            **photo.attachment_fields(),
        )
        uow.session.add(row)
        uow.session.add(
            Reminder(
                kind="visit_due",
                case_id=county.cases["B"],
                recipient_id=county.staff["teacher_b"].id,
                due_at=at("10-12", 9),
                state="sent",
                dedupe_key="visit_due:B",
                sent_at=at("10-12", 9),
                created_at=at("10-09", 9),
                payload={},
                **_send_after(at("10-12", 9)),
            )
        )
        uow.session.add(
            ChannelAccount(
                staff_id=county.staff["teacher_a"].id,
                channel="telegram",
                account=str(1),
                conversation=str(1),
                bound_at=at("09-01"),
            )
        )
        await uow.commit()
        county.attachment_id = row.id


async def build_county(uow_factory: UnitOfWorkFactory, policy: Policy, media_dir: Path) -> County:
    """The whole fixture, with dashboard logins (password PASSWORD) for the coordinators."""
    world = await build_world(uow_factory)
    township2, school2, pupil, people = await _second_township(uow_factory, world)
    county = County(world=world, school2=school2, township2=township2, staff={**world.staff, **people})
    await _history(uow_factory, county, policy)
    county.students["E"] = pupil
    async with uow_factory() as uow:
        case, _ = await report_absence(
            uow,
            Scope(staff_id=None, everything=True),
            Actor.system("test"),
            AbsenceReport(pupil.id, date(2026, 9, 25), reason_code="A3", suspected=True),
            now=at("10-01"),
            policy=policy,
            tz=TZ,
        )
        county.cases["E"] = case.id
        for key, username in USERS.items():
            await create_user(
                uow, county.staff[key], username, PASSWORD, now=CREATED, can_export_pii=key == "admin"
            )
        await uow.commit()
    await _photo_and_reminder(uow_factory, county, media_dir)
    return county
