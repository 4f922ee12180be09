"""送教上门, one plan per child (一人一案): a severely disabled child assessed for home teaching is taught at
home by named teachers on a cadence (DOMAIN.md §5: e.g. at least once a week, or twice a month).

A plan is not a case: it never opens, moves or closes one, and a pupil with an open case keeps it as is.
Every change is audited; who may do what follows scope (domain.people.scope): principals and officers keep
plans of pupils they see, the plan's teachers (and principals) log its sessions.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.audit import Actor, audit
from domain.errors import InvalidInput, NotInScope
from domain.people.roles import COORDINATOR_ROLES, TEACHER_ROLES, Role
from domain.privacy.pii_text import find_identifiers
from storage import home_teaching as store
from storage.models import HomeTeachingPlan, HomeTeachingSession, Staff, Student
from storage.scope import Scope
from storage.uow import UnitOfWork

WEEK, MONTH = "week", "month"
CADENCES = (WEEK, MONTH)
CHILD_STATES = ("good", "fair", "unwell", "declined")  # how the child was during the session
MAX_TEACHERS = 5
MAX_SESSIONS_PER_PERIOD = 10
MIN_MINUTES, MAX_MINUTES = 10, 480
MAX_TEXT = 500
MAX_REF = 100


@dataclass(frozen=True)
class PlanInput:
    """What a coordinator types into the plan form."""

    student_id: int
    teacher_ids: list[int]
    cadence: str
    sessions_per_period: int
    minutes_per_session: int
    content_areas: str
    starts_on: date
    review_on: date
    assessment_ref: str
    ends_on: date | None = None
    active: bool = True


@dataclass(frozen=True)
class SessionInput:
    """What a teacher reports after one session."""

    plan_id: int
    held_on: date
    minutes: int
    content: str
    child_state: str
    note: str | None = None
    photo_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Period:
    """One cadence period (a Monday-to-Sunday week or a calendar month), both ends included."""

    starts_on: date
    ends_on: date

    @property
    def remind_on(self) -> date:
        """Mid-period: the day the plan's teachers are reminded if the period is still short."""
        return self.starts_on + timedelta(days=(self.ends_on - self.starts_on).days // 2)

    def holds(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


def period_of(day: date, cadence: str) -> Period:
    if cadence == WEEK:
        start = day - timedelta(days=day.weekday())
        return Period(start, start + timedelta(days=6))
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(day.replace(day=1), day.replace(day=last))


def previous_period(period: Period, cadence: str) -> Period:
    return period_of(period.starts_on - timedelta(days=1), cadence)


def counts(plan: HomeTeachingPlan, period: Period) -> bool:
    """Whether the plan owes sessions in `period`: it started by the reminder day and had not ended."""
    started = plan.starts_on <= period.remind_on
    return started and (plan.ends_on is None or period.starts_on <= plan.ends_on)


def held_in(days: Sequence[date], period: Period) -> int:
    return sum(1 for d in days if period.holds(d))


def _check_text(value: str, code: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidInput(code, max=limit)
    if find_identifiers(value):
        raise InvalidInput("home_teaching.error.identifiers")
    return value


async def _check_teachers(uow: UnitOfWork, student: Student, teacher_ids: list[int]) -> list[int]:
    ids = list(dict.fromkeys(teacher_ids))
    if not ids or len(ids) > MAX_TEACHERS:
        raise InvalidInput("home_teaching.error.teachers", max=MAX_TEACHERS)
    for staff_id in ids:
        staff = await uow.directory.staff(staff_id)
        allowed = {*TEACHER_ROLES, Role.PRINCIPAL}
        if (
            staff is None
            or not staff.active
            or staff.role not in allowed
            or staff.school_id != student.school_id
        ):
            raise InvalidInput("home_teaching.error.teachers", max=MAX_TEACHERS)
    return ids


async def plan_teachers(uow: UnitOfWork, student: Student) -> list[Staff]:
    """Who may be named on a plan: the active teachers and principals of the pupil's school."""
    found = []
    for role in (Role.CLASS_TEACHER, Role.SUBJECT_TEACHER, Role.PRINCIPAL):
        found += [s for s in await uow.directory.staff_of_school(student.school_id, role) if s.active]
    return sorted(found, key=lambda s: (s.name, s.id))


def _validate(data: PlanInput) -> None:
    if data.cadence not in CADENCES:
        raise InvalidInput("home_teaching.error.cadence")
    if not 1 <= data.sessions_per_period <= MAX_SESSIONS_PER_PERIOD:
        raise InvalidInput("home_teaching.error.sessions", max=MAX_SESSIONS_PER_PERIOD)
    if not MIN_MINUTES <= data.minutes_per_session <= MAX_MINUTES:
        raise InvalidInput("home_teaching.error.minutes", min=MIN_MINUTES, max=MAX_MINUTES)
    if data.review_on <= data.starts_on:
        raise InvalidInput("home_teaching.error.review_before_start")
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise InvalidInput("home_teaching.error.end_before_start")


async def save_plan(
    uow: UnitOfWork, scope: Scope, actor: Actor, actor_role: str, data: PlanInput, *, now: datetime
) -> HomeTeachingPlan:
    """Creates the pupil's plan or updates it in place (one plan per child); coordinators only."""
    if actor_role not in COORDINATOR_ROLES:
        raise NotInScope()
    student = await uow.students.in_scope(scope, data.student_id)
    if student is None:
        audit(uow, actor, now, "denied", "home_teaching_plan", None, student_id=data.student_id)
        raise NotInScope()
    _validate(data)
    content = _check_text(data.content_areas, "home_teaching.error.content_areas", MAX_TEXT)
    reference = _check_text(data.assessment_ref, "home_teaching.error.assessment_ref", MAX_REF)
    teachers = await _check_teachers(uow, student, data.teacher_ids)
    plan = await store.plan_of_student(uow.session, student.id)
    action = "update" if plan is not None else "create"
    if plan is None:
        plan = HomeTeachingPlan(student_id=student.id, created_at=now)
        uow.session.add(plan)
    plan.teacher_ids = teachers
    plan.cadence = data.cadence
    plan.sessions_per_period = data.sessions_per_period
    plan.minutes_per_session = data.minutes_per_session
    plan.content_areas = content
    plan.starts_on = data.starts_on
    plan.review_on = data.review_on
    plan.ends_on = data.ends_on
    plan.assessment_ref = reference
    plan.active = data.active
    plan.updated_at = now
    plan.updated_by_id = actor.staff_id
    await uow.flush()
    audit(
        uow,
        actor,
        now,
        action,
        "home_teaching_plan",
        plan.id,
        cadence=plan.cadence,
        sessions_per_period=plan.sessions_per_period,
        teachers=teachers,
        active=plan.active,
    )
    return plan


def may_log(plan: HomeTeachingPlan, student: Student, staff: Staff, scope: Scope) -> bool:
    """The plan's own teachers, and principals and officers who see the pupil."""
    if not plan.active:
        return False
    if staff.id in plan.teacher_ids:
        return True
    return staff.role in COORDINATOR_ROLES and scope.sees_student(
        student.class_id, student.school_id, student.home_village_id
    )


async def plans_to_log(uow: UnitOfWork, staff: Staff, scope: Scope) -> list[tuple[HomeTeachingPlan, Student]]:
    """The active plans this person may log a session for (a school holds a handful of them)."""
    found = []
    for plan, student in await store.active_plans_with_students(uow.session):
        if student.active and may_log(plan, student, staff, scope):
            found.append((plan, student))
    return found


async def log_session(
    uow: UnitOfWork,
    staff: Staff,
    scope: Scope,
    actor: Actor,
    data: SessionInput,
    *,
    now: datetime,
    today: date,
) -> tuple[HomeTeachingPlan, HomeTeachingSession]:
    """Records one session held; refuses a plan not the teacher's, a day outside the plan, bad values."""
    plan = await store.plan(uow.session, data.plan_id)
    student = await uow.students.get(plan.student_id) if plan is not None else None
    if plan is None or student is None or not may_log(plan, student, staff, scope):
        audit(uow, actor, now, "denied", "home_teaching_plan", data.plan_id, via="session")
        raise NotInScope()
    if data.held_on > today:
        raise InvalidInput("form.date_in_future")
    if data.held_on < plan.starts_on:
        raise InvalidInput("home_teaching.error.before_plan", starts_on=plan.starts_on.isoformat())
    if not MIN_MINUTES <= data.minutes <= MAX_MINUTES:
        raise InvalidInput("home_teaching.error.minutes", min=MIN_MINUTES, max=MAX_MINUTES)
    if data.child_state not in CHILD_STATES:
        raise InvalidInput("home_teaching.error.child_state")
    content = _check_text(data.content, "home_teaching.error.content", MAX_TEXT)
    note = _check_text(data.note, "home_teaching.error.content", MAX_TEXT) if data.note else None
    session = HomeTeachingSession(
        plan_id=plan.id,
        held_on=data.held_on,
        minutes=data.minutes,
        content=content,
        child_state=data.child_state,
        note=note,
        photo_ids=list(data.photo_ids),
        recorded_by_id=staff.id,
        recorded_at=now,
    )
    uow.session.add(session)
    await uow.flush()
    audit(
        uow,
        actor,
        now,
        "create",
        "home_teaching_session",
        session.id,
        plan_id=plan.id,
        held_on=data.held_on.isoformat(),
        minutes=data.minutes,
        photos=len(data.photo_ids),
    )
    return plan, session
