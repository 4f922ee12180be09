"""Term-start roll call (开学报到核查): pupils who have not arrived become suspected-dropout cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import AbsenceReport, add_event, report_absence
from domain.errors import AbsenceAlreadyReported, NotInScope, RollCallClosed
from domain.policy import Policy
from domain.reminders.term_start import open_term, roll_call_open
from storage.models import Case, SchoolClass
from storage.scope import Scope
from storage.uow import UnitOfWork


@dataclass
class RollCall:
    """One class teacher's check: the class and the pupils who have not arrived."""

    class_id: int
    absent_student_ids: list[int] = field(default_factory=list)


@dataclass
class RollCallResult:
    opened: list[Case] = field(default_factory=list)
    updated: list[Case] = field(default_factory=list)


def roll_call_due(policy: Policy, today: date) -> bool:
    """True on the first `policy.roll_call_days` school days of the current term."""
    found = open_term(policy, today)
    return found is not None and today in found[1]


async def class_in_scope(
    uow: UnitOfWork, scope: Scope, actor: Actor, class_id: int, now: datetime
) -> SchoolClass:
    """The class, or NotInScope (logged) when the actor does not answer for it."""
    school_class = await uow.directory.school_class(class_id)
    if school_class is None or not (
        scope.everything or class_id in scope.class_ids or school_class.school_id in scope.school_ids
    ):
        audit(uow, actor, now, "denied", "class", class_id)
        raise NotInScope(f"class {class_id}")
    return school_class


async def record_roll_call(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    roll_call: RollCall,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> RollCallResult:
    """Opens a suspected case for every pupil who has not arrived (or adds to their open case);
    the 15-day verification window counts from the term's start. Outside the term's roll-call days it
    records nothing (RollCallClosed): a later absence is reported as one."""
    school_class = await class_in_scope(uow, scope, actor, roll_call.class_id, now)
    if not roll_call_open(policy, now.astimezone(tz).date()):
        raise RollCallClosed()
    pupils = {s.id for s in await uow.students.of_class(school_class.id)}
    for student_id in roll_call.absent_student_ids:
        if student_id not in pupils:  # not in this class: forged or stale
            audit(uow, actor, now, "denied", "student", student_id, via="roll_call")
            raise NotInScope(f"student {student_id}")
    today = now.astimezone(tz).date()
    term = policy.term_on(today)
    starts_on = term.starts_on if term else today
    result = RollCallResult()
    for student_id in dict.fromkeys(roll_call.absent_student_ids):
        report = AbsenceReport(student_id=student_id, absent_since=starts_on, suspected=True)
        try:
            case, created = await report_absence(uow, scope, actor, report, now=now, policy=policy, tz=tz)
        except AbsenceAlreadyReported:  # reported from the same day already (or a roll call repeated)
            known = await uow.cases.open_for_student(student_id)
            assert known is not None  # the error names this pupil's open case
            case, created = known, False
            case.updated_at = now
        add_event(
            uow,
            case,
            "roll_call_absent",
            actor,
            now,
            term=term.name if term else None,
            term_starts_on=starts_on.isoformat(),
        )
        (result.opened if created else result.updated).append(case)
    audit(
        uow,
        actor,
        now,
        "roll_call",
        "class",
        school_class.id,
        absent=len(roll_call.absent_student_ids),
        opened=len(result.opened),
        updated=len(result.updated),
    )
    await uow.flush()
    return result
