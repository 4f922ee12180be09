"""Who owns a case: the pupil's class teacher, else the principal. An open case never stays without one."""

from __future__ import annotations

from datetime import datetime

from domain.roles import Role
from storage.models import Case, CaseEvent, Staff, Student
from storage.uow import UnitOfWork


async def default_owner(uow: UnitOfWork, student: Student, fallback: int | None = None) -> int | None:
    """The active class teacher of the pupil's class, else `fallback` (the reporter), else a principal."""
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
