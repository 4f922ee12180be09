"""入学: a 失学 child is enrolled. For a child who was never on a roll, "returned" means *enrolled*: an
officer records the school and class the child now attends, the child becomes a pupil of that class (its
teachers see them from now on), the case moves to returned and then to the retention watch, and the class
teacher owns it from here on as for any returned pupil (RETURNED/RETENTION: school and teachers,
DOMAIN.md §3)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import case_in_scope, change_status
from domain.casework.decisions import NotAllowed
from domain.casework.lifecycle import CaseStatus, can_transition
from domain.casework.ownership import default_owner
from domain.casework.returns import retention_checks_due
from domain.errors import InvalidInput, NotInScope
from domain.people.roles import Role
from domain.policy import Policy
from domain.school_age.out_of_school import ERROR
from domain.school_age.school_roll import OUT_OF_SCHOOL
from storage.models import Case, CaseEvent, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork

# Who records an enrolment: the township, which owns 失学 cases, and the county above it.
ENROL_ROLES = frozenset({Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICER, Role.ADMIN})


async def enrol_child(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    case_id: int,
    class_id: int,
    enrolled_on: date,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> Case:
    """Puts the 失学 child of the case on the class's roll and moves the case to returned (入学), then
    retention. Refused (InvalidInput) for a case that is not a 失学 child's, a status the child cannot be
    enrolled from, an unknown class, an enrolment date in the future or before the case; a class outside
    the officer's area is NotInScope; a role that does not enrol, NotAllowed."""
    case = await case_in_scope(uow, scope, actor, case_id, now)
    if not staff.active or Role(staff.role) not in ENROL_ROLES:
        audit(uow, actor, now, "denied", "case", case_id, decision="enrol")
        raise NotAllowed("enrol")
    student = await uow.students.get(case.student_id)
    assert student is not None
    if case.kind != OUT_OF_SCHOOL or student.school_id is not None:
        raise InvalidInput(ERROR + "not_out_of_school")
    if not can_transition(case.status, CaseStatus.RETURNED):
        raise InvalidInput(ERROR + "not_enrollable", status=case.status)
    school_class = await uow.directory.school_class(class_id)
    if school_class is None:
        raise InvalidInput(ERROR + "class")
    if not (scope.everything or school_class.school_id in scope.school_ids):
        audit(uow, actor, now, "denied", "class", class_id)
        raise NotInScope(f"class {class_id}")
    if enrolled_on > now.astimezone(tz).date():
        raise InvalidInput(ERROR + "enrolled_in_future")
    if enrolled_on < case.opened_at.astimezone(tz).date():
        raise InvalidInput(ERROR + "enrolled_before_case")

    student.school_id, student.class_id = school_class.school_id, school_class.id
    await change_status(
        uow,
        case,
        CaseStatus.RETURNED,
        actor,
        now=now,
        kind="enrolled",
        returned_on=enrolled_on.isoformat(),
        school_id=school_class.school_id,
        class_id=school_class.id,
    )
    case.returned_on = enrolled_on
    case.visit_due_at = case.verification_due_at = case.return_due_at = None
    owner = await default_owner(uow, student)
    if owner is not None and owner != case.responsible_teacher_id:
        uow.session.add(
            CaseEvent(
                case_id=case.id,
                kind="owner_changed",
                occurred_at=now,
                recorded_at=now,
                actor_id=actor.staff_id,
                data={"from": case.responsible_teacher_id, "to": owner},
            )
        )
        case.responsible_teacher_id = owner
    audit(uow, actor, now, "enrol", "student", student.id, class_id=school_class.id)
    await change_status(
        uow,
        case,
        CaseStatus.RETENTION,
        actor,
        now=now,
        kind="retention_started",
        policy=policy,
        tz=tz,
        retention_checks_due=retention_checks_due(enrolled_on, policy),
    )
    return case
