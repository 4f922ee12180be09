"""Gathers what the reminder rules need about a case: its timeline and the people around it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.policy import Policy
from domain.reminder_rules import CaseFacts
from domain.roles import Role
from storage.models import Case, CaseEvent, Staff
from storage.uow import UnitOfWork

# Coming back from these statuses to "absent" is a relapse: a new absence, a new first visit.
_RELAPSE_FROM = ("retention", "closed")


def _episode_start(case: Case, events: Sequence[CaseEvent]) -> datetime:
    starts = [
        e.recorded_at
        for e in events
        if e.kind == "opened" or (e.to_status == "absent" and e.from_status in _RELAPSE_FROM)
    ]
    return max(starts) if starts else case.opened_at


async def _active(uow: UnitOfWork, staff_id: int | None) -> Staff | None:
    staff = await uow.directory.staff(staff_id) if staff_id is not None else None
    return staff if staff is not None and staff.active else None


async def people_around(uow: UnitOfWork, school_id: int) -> dict[str, tuple[int, ...]]:
    """The school's principals and the township and county officers above it, by role."""
    people: dict[str, tuple[int, ...]] = {}
    school = await uow.directory.school(school_id)
    if school is None:
        return people
    people["principal"] = tuple(s.id for s in await uow.directory.staff_of_school(school.id, Role.PRINCIPAL))
    township = await uow.directory.area(school.area_id)
    if township is None:
        return people
    people["township_officer"] = tuple(
        s.id for s in await uow.directory.staff_in_area(township.id, Role.TOWNSHIP_OFFICER)
    )
    if township.parent_id is not None:
        people["county_officer"] = tuple(
            s.id for s in await uow.directory.staff_in_area(township.parent_id, Role.COUNTY_OFFICER)
        )
    return people


async def case_facts(uow: UnitOfWork, case: Case, policy: Policy, tz: ZoneInfo) -> CaseFacts:
    """The case's state as the rules see it (see `reminder_rules.CaseFacts`)."""
    events = await uow.cases.events(case.id)
    start = _episode_start(case, events)
    since = [e for e in events if e.recorded_at >= start]
    notices = [e.recorded_at for e in since if e.kind == "notice_served"]
    retention_starts = [e.id for e in events if e.to_status == "retention"]
    checks_done = sum(
        1
        for e in events
        if e.kind == "retention_check"
        and (e.data or {}).get("ok") is True
        and retention_starts
        and e.id > max(retention_starts)
    )
    student = await uow.students.get(case.student_id)
    people = await people_around(uow, student.school_id) if student is not None else {}
    teacher = await _active(uow, case.responsible_teacher_id)
    roles = {staff_id: role for role, ids in people.items() for staff_id in ids}
    if teacher is not None:
        roles[teacher.id] = teacher.role
    term = policy.term_on(start.astimezone(tz).date())
    return CaseFacts(
        case_id=case.id,
        status=case.status,
        category_scheme=case.category_scheme,
        episode_start=start,
        visit_logged=any(e.kind == "visit_logged" for e in since),
        verification_due_at=case.verification_due_at,
        term_start=term.starts_on if term else None,
        notice_at=max(notices) if notices else None,
        return_due_at=case.return_due_at,
        returned_on=case.returned_on,
        retention_checks_done=checks_done,
        teacher_id=teacher.id if teacher is not None else None,
        people=people,
        roles=roles,
    )


async def escalation_target(uow: UnitOfWork, staff: Staff, case: Case | None) -> list[Staff]:
    """Who is told instead when someone cannot be reached: teachers and cadres → the principal,
    principals → township officers, township officers → county officers."""
    role = Role(staff.role)
    school_id = staff.school_id
    if case is not None and school_id is None:
        student = await uow.students.get(case.student_id)
        school_id = student.school_id if student is not None else None
    if role in (Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.VILLAGE_CADRE):
        return list(await uow.directory.staff_of_school(school_id, Role.PRINCIPAL)) if school_id else []
    if role is Role.PRINCIPAL and school_id is not None:
        school = await uow.directory.school(school_id)
        return (
            list(await uow.directory.staff_in_area(school.area_id, Role.TOWNSHIP_OFFICER)) if school else []
        )
    if role is Role.TOWNSHIP_OFFICER and staff.area_id is not None:
        area = await uow.directory.area(staff.area_id)
        if area is not None and area.parent_id is not None:
            return list(await uow.directory.staff_in_area(area.parent_id, Role.COUNTY_OFFICER))
    return []
