"""Who owns a case: the pupil's class teacher, else the principal; for a child on no school roll (失学)
the township officer of the child's village, else the county officer. An open case never stays without one."""

from __future__ import annotations

from datetime import datetime

from domain.people.roles import Role
from storage.models import Case, CaseEvent, Staff, Student
from storage.uow import UnitOfWork


async def officers_above(uow: UnitOfWork, village_id: int | None) -> dict[str, tuple[int, ...]]:
    """The active township officers of the village's township and county officers of its county."""
    people: dict[str, tuple[int, ...]] = {}
    village = await uow.directory.area(village_id) if village_id is not None else None
    township = await uow.directory.area(village.parent_id) if village and village.parent_id else None
    if township is None:
        return people
    people[Role.TOWNSHIP_OFFICER.value] = tuple(
        s.id for s in await uow.directory.staff_in_area(township.id, Role.TOWNSHIP_OFFICER.value)
    )
    if township.parent_id is not None:
        people[Role.COUNTY_OFFICER.value] = tuple(
            s.id for s in await uow.directory.staff_in_area(township.parent_id, Role.COUNTY_OFFICER.value)
        )
    return people


async def village_owner(uow: UnitOfWork, village_id: int | None) -> int | None:
    """The owner of a 失学 case: the township is responsible for children no school has (issue 16), so
    its officer owns the case (the village cadre does the visits), else a county officer above it."""
    people = await officers_above(uow, village_id)
    for role in (Role.TOWNSHIP_OFFICER.value, Role.COUNTY_OFFICER.value):
        if people.get(role):
            return people[role][0]
    return None


async def default_owner(uow: UnitOfWork, student: Student, fallback: int | None = None) -> int | None:
    """The active class teacher of the pupil's class, else `fallback` (the reporter), else a principal.
    A child on no school roll has no class: their village's township officer (`village_owner`)."""
    if student.school_id is None:
        return await village_owner(uow, student.home_village_id)
    for assignment in await uow.directory.assignments_of_class(student.class_id):
        if assignment.is_class_teacher:
            staff = await uow.directory.staff(assignment.staff_id)
            if staff is not None and staff.active:
                return staff.id
    if fallback is not None:
        staff = await uow.directory.staff(fallback)
        if staff is not None and staff.active:
            return staff.id
    principals = await uow.directory.staff_of_school(student.school_id, Role.PRINCIPAL.value)
    return principals[0].id if principals else None


async def ensure_owner(uow: UnitOfWork, case: Case, now: datetime) -> Staff | None:
    """The case's active owner; one who left (deactivated in the roster) is replaced, on the timeline."""
    current = await uow.directory.staff(case.responsible_teacher_id) if case.responsible_teacher_id else None
    if current is not None and current.active:
        return current
    student = await uow.students.get(case.student_id)
    new_id = await default_owner(uow, student) if student is not None else None
    if new_id is None or new_id == case.responsible_teacher_id:
        return None
    uow.session.add(
        CaseEvent(
            case_id=case.id,
            kind="owner_changed",
            occurred_at=now,
            recorded_at=now,
            actor_id=None,
            data={"from": case.responsible_teacher_id, "to": new_id},
        )
    )
    case.responsible_teacher_id = new_id
    return await uow.directory.staff(new_id)
