"""送教上门台账: per child the plan, sessions held against sessions planned, and the last session.

"Planned" counts the periods of the plan's cadence that have ended by the ledger day (a period still
running is shown apart, as "this period"), so a week not over yet never reads as missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from domain.home_teaching import counts, held_in, period_of
from storage import home_teaching as store
from storage.models import HomeTeachingPlan
from storage.scope import Scope
from storage.uow import UnitOfWork

MAX_PERIODS = 600  # about eleven years of weeks: a bound on the walk, never reached by a real plan


@dataclass(frozen=True)
class LedgerRow:
    plan_id: int
    school: str
    class_name: str
    pupil_name: str
    student_number: str
    teachers: str
    cadence: str
    sessions_per_period: int
    minutes_per_session: int
    content_areas: str
    starts_on: date
    review_on: date
    ends_on: date | None
    assessment_ref: str
    active: bool
    planned: int  # sessions owed by the periods ended by the ledger day
    held: int  # sessions held up to the ledger day
    held_minutes: int
    this_period_held: int
    last_session: date | None


def planned_sessions(plan: HomeTeachingPlan, as_of: date) -> int:
    """Sessions the plan owed in the periods that ended on or before `as_of`."""
    total, period = 0, period_of(plan.starts_on, plan.cadence)
    for _ in range(MAX_PERIODS):
        if period.ends_on > as_of:
            break
        if counts(plan, period):
            total += plan.sessions_per_period
        period = period_of(period.ends_on + timedelta(days=1), plan.cadence)
    return total


async def ledger_rows(uow: UnitOfWork, scope: Scope, *, as_of: date) -> list[LedgerRow]:
    """Every plan of a pupil in scope, as of the end of `as_of` (sessions held later are left out)."""
    plans = await store.plans_in_scope(uow.session, scope)
    sessions = await store.sessions_of_plans(uow.session, [p.id for p, _ in plans])
    rows = []
    for plan, student in plans:
        held = [s for s in sessions[plan.id] if s.held_on <= as_of]
        school = await uow.directory.school(student.school_id)
        school_class = await uow.directory.school_class(student.class_id)
        names = []
        for staff_id in plan.teacher_ids:
            staff = await uow.directory.staff(int(staff_id))
            names.append(staff.name if staff is not None else "?")
        current = period_of(as_of, plan.cadence)
        rows.append(
            LedgerRow(
                plan_id=plan.id,
                school=school.name if school else "",
                class_name=school_class.name if school_class else "",
                pupil_name=student.name,
                student_number=student.student_number,
                teachers="、".join(names),
                cadence=plan.cadence,
                sessions_per_period=plan.sessions_per_period,
                minutes_per_session=plan.minutes_per_session,
                content_areas=plan.content_areas,
                starts_on=plan.starts_on,
                review_on=plan.review_on,
                ends_on=plan.ends_on,
                assessment_ref=plan.assessment_ref,
                active=plan.active,
                planned=planned_sessions(plan, as_of),
                held=len(held),
                held_minutes=sum(s.minutes for s in held),
                this_period_held=held_in([s.held_on for s in held], current),
                last_session=max((s.held_on for s in held), default=None),
            )
        )
    return rows
