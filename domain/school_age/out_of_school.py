"""失学 cases: a school-age child on no school roll (never enrolled), found by a cross-check of the
registration list against the school rolls or on a door-to-door canvass (铁脚板摸排, DOMAIN.md §2).

Issue 16: such a case has no school; it is owned by the township (its officer, `domain.casework.ownership`) and
the village cadre of the current address, follows the case lifecycle from "suspected" on, and counts
apart from dropouts. The child becomes a roster pupil when enrolled (`domain.school_age.enrolment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import add_event, cadre_of
from domain.casework.lifecycle import CaseStatus
from domain.casework.ownership import village_owner
from domain.crosscheck.buckets import AgeRule
from domain.errors import InvalidInput, NotInScope
from domain.policy import Policy
from domain.privacy.identity import id_problem, normalise_id
from domain.reminders.planning import plan_case_reminders
from domain.school_age.school_roll import OUT_OF_SCHOOL, placeholder_number
from storage.models import Case, Student
from storage.scope import Scope
from storage.uow import UnitOfWork

SEXES = ("M", "F")
MAX_NAME, MAX_ADDRESS = 50, 200
ERROR = "out_of_school.error."  # catalog prefix of the refusals below


@dataclass(frozen=True)
class OutOfSchoolChild:
    """What is known of a child found on no school roll. `village_id`: the village of the current
    address (whose cadre visits); the ID number is optional (children without one exist, DOMAIN.md §7)."""

    name: str
    sex: str  # M | F
    birth_date: date
    national_id: str | None
    village_id: int
    registered_address: str | None = None  # 户籍地
    current_address: str | None = None  # 现住址


def _refuse(code: str, **params: object) -> InvalidInput:
    return InvalidInput(ERROR + code, **params)


def _checked(child: OutOfSchoolChild, today: date) -> OutOfSchoolChild:
    """The child's details cleaned, or InvalidInput naming the first problem."""
    name = child.name.strip()
    if not name or len(name) > MAX_NAME:
        raise _refuse("name")
    if child.sex not in SEXES:
        raise _refuse("sex")
    if child.birth_date > today:
        raise _refuse("birth_in_future")
    rule = AgeRule.for_day(today)
    age = rule.age(child.birth_date)
    if not rule.min_age <= age <= rule.max_age:
        raise _refuse("age", age=age, low=rule.min_age, high=rule.max_age)
    national_id = normalise_id(child.national_id) if child.national_id and child.national_id.strip() else None
    if national_id is not None:
        if id_problem(national_id) is not None:
            raise _refuse("national_id")
        if national_id[6:14] != child.birth_date.strftime("%Y%m%d"):
            raise _refuse("id_birth_mismatch")
    addresses = [(a or "").strip() or None for a in (child.registered_address, child.current_address)]
    if any(a is not None and len(a) > MAX_ADDRESS for a in addresses):
        raise _refuse("address")
    return OutOfSchoolChild(name, child.sex, child.birth_date, national_id, child.village_id, *addresses)


async def _village(uow: UnitOfWork, actor: Actor, village_id: int, scope: Scope | None, now: datetime) -> int:
    area = await uow.directory.area(village_id)
    if area is None or area.level != "village":
        raise _refuse("not_village")
    if scope is not None and not (scope.everything or village_id in scope.village_ids):
        audit(uow, actor, now, "denied", "area", village_id)
        raise NotInScope(f"village {village_id}")
    return area.id


async def _child_row(uow: UnitOfWork, child: OutOfSchoolChild) -> Student:
    """The child's student row: the existing no-school child with this ID number, else a new one."""
    if child.national_id is not None:
        for found in await uow.students.with_national_id(child.national_id):
            if found.school_id is not None:  # on a roll: an absence of a pupil, not a 失学 child
                raise _refuse("on_roll")
            found.home_village_id = child.village_id
            found.registered_residence = child.registered_address or found.registered_residence
            found.current_address = child.current_address or found.current_address
            return found
    row = Student(
        student_number=placeholder_number(),
        name=child.name,
        sex=child.sex,
        birth_date=child.birth_date,
        national_id=child.national_id,
        school_id=None,
        class_id=None,
        home_village_id=child.village_id,
        registered_residence=child.registered_address,
        current_address=child.current_address,
        active=True,
    )
    uow.session.add(row)
    await uow.flush()
    return row


async def open_out_of_school_case(
    uow: UnitOfWork,
    actor: Actor,
    child: OutOfSchoolChild,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    evidence: dict[str, Any] | None = None,
    scope: Scope | None = None,
    found_by: str | None = None,
) -> Case:
    """Opens a suspected 失学 case for a child on no school roll, owned by the township officer of the
    child's village with the village's cadre. `evidence` (a cross-check's run id and list/row codes) is
    kept on the timeline as a "crosscheck_match" event; `found_by` ("canvass": 铁脚板摸排) goes on the
    "opened" event. With `scope`, a village outside it is refused.
    Refused with InvalidInput: a village that is not one, a birth date in the future, a child outside
    the compulsory-education ages, a bad ID number, a child on a school roll, a second open case."""
    today = now.astimezone(tz).date()
    village_id = await _village(uow, actor, child.village_id, scope, now)
    child = _checked(child, today)
    owner = await village_owner(uow, village_id)
    if owner is None:
        raise _refuse("no_officer")
    student = await _child_row(uow, child)
    if (open_case := await uow.cases.open_for_student(student.id)) is not None:
        raise _refuse("case_open", number=open_case.number)
    case = Case(
        number=await uow.cases.next_number(now.astimezone(tz).year),
        student_id=student.id,
        kind=OUT_OF_SCHOOL,
        status=CaseStatus.SUSPECTED.value,
        responsible_teacher_id=owner,
        responsible_cadre_id=await cadre_of(uow, student),
        opened_at=now,
        updated_at=now,
        visit_due_at=policy.visit_due(now),
        # The 15-day rule applies as to any suspected case (004_4b017d4e2bf19d2a.txt: 开学后15天内).
        verification_due_at=policy.verification_due(now, tz),
    )
    uow.session.add(case)
    await uow.flush()
    found = found_by or ("crosscheck" if evidence is not None else None)
    add_event(uow, case, "opened", actor, now, to_status=case.status, case_kind=OUT_OF_SCHOOL, found_by=found)
    if evidence is not None:
        match = add_event(uow, case, "crosscheck_match", actor, now)
        match.data = dict(evidence)
    audit(uow, actor, now, "create", "case", case.id, kind=OUT_OF_SCHOOL)
    await uow.flush()
    await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return case
