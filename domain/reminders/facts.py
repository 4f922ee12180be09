"""Gathers what the reminder rules need about a case: its timeline and the people around it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast
from zoneinfo import ZoneInfo

from domain.casework.ownership import officers_above
from domain.casework.steps import Ack, CaseFacts, VisitFact
from domain.people.roles import Role
from domain.policy import Policy
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


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _latest(events: Sequence[CaseEvent], kind: str, since: datetime | None = None) -> CaseEvent | None:
    found = [e for e in events if e.kind == kind and (since is None or e.recorded_at >= since)]
    return found[-1] if found else None


def _visits(events: Sequence[CaseEvent]) -> tuple[VisitFact, ...]:
    return tuple(
        VisitFact(
            at=e.occurred_at,
            recorded_at=e.recorded_at,
            outcome=str((e.data or {}).get("outcome")),
            promised_return_on=_day((e.data or {}).get("promised_return_on")),
            next_follow_up_on=_day((e.data or {}).get("next_follow_up_on")),
            visitors=tuple(i for i in (e.data or {}).get("visitors") or [] if isinstance(i, int)),
        )
        for e in events
        if e.kind == "visit_logged"
    )


def _absent_since(events: Sequence[CaseEvent], start: datetime) -> date | None:
    days = [
        d
        for e in events
        if e.kind == "absence_reported" and e.recorded_at >= start
        if (d := _day((e.data or {}).get("absent_since"))) is not None
    ]
    return min(days) if days else None  # a relapse without a new report: from the relapse


def _retention(events: Sequence[CaseEvent]) -> tuple[int, datetime | None, tuple[datetime, ...]]:
    """Checks passed, a pending proposal to close, and closings sent back, since the latest return."""
    starts = [i for i, e in enumerate(events) if e.to_status == "retention"]
    if not starts:
        return 0, None, ()
    since = events[starts[-1] :]
    done = sum(1 for e in since if e.kind == "retention_check" and (e.data or {}).get("ok") is True)
    proposed: datetime | None = None
    for e in since:
        if e.kind == "closing_proposed":
            proposed = e.recorded_at
        elif e.kind in ("closing_returned", "closing_approved"):
            proposed = None
    return done, proposed, tuple(e.recorded_at for e in since if e.kind == "closing_returned")


async def _active(uow: UnitOfWork, staff_id: int | None) -> Staff | None:
    staff = await uow.directory.staff(staff_id) if staff_id is not None else None
    return staff if staff is not None and staff.active else None


async def people_around(uow: UnitOfWork, school_id: int) -> dict[str, tuple[int, ...]]:
    """The school's principals and the township and county officers above it, by role (looked up once
    per unit of work: a use case plans its case more than once)."""
    key = ("people_around", school_id)
    if key not in uow.memo:
        uow.memo[key] = await _people_around(uow, school_id)
    return dict(cast(dict[str, tuple[int, ...]], uow.memo[key]))


async def _people_around(uow: UnitOfWork, school_id: int) -> dict[str, tuple[int, ...]]:
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
    """The case's state as the rules see it (see `domain.casework.steps.CaseFacts`)."""
    events = await uow.cases.events(case.id)
    start = _episode_start(case, events)
    entered = [e.recorded_at for e in events if e.to_status == case.status]
    status_since = entered[-1] if entered else case.updated_at
    since = [e for e in events if e.recorded_at >= start]
    notices = [e.recorded_at for e in since if e.kind == "notice_served"]
    dropped = [e.recorded_at for e in events if e.to_status == "dropped_out"]
    checks_done, proposed, reworks = _retention(events)
    order = _latest(events, "compliance_ordered", status_since)
    deferral = _latest(events, "deferred", status_since) if case.status == "cleared" else None
    classified = _latest(events, "classified")
    recheck = _latest(events, "rechecked", status_since)
    reported = _latest(events, "reported", status_since)
    referred = _latest(events, "legal_referral", status_since)
    student = await uow.students.get(case.student_id)
    school_less = student is not None and student.school_id is None
    people: dict[str, tuple[int, ...]] = {}
    if student is not None and student.school_id is not None:
        people = await people_around(uow, student.school_id)
    elif student is not None:  # 失学: no school, no principal; the township and county above the village
        people = await officers_above(uow, student.home_village_id)
    teacher = await _active(uow, case.responsible_teacher_id)
    cadre = await _active(uow, case.responsible_cadre_id)
    roles = {staff_id: role for role, ids in people.items() for staff_id in ids}
    for person in (teacher, cadre):
        if person is not None:
            roles[person.id] = person.role
    acks = {
        f"{e.step}@{e.anchor}": Ack(e.acknowledged_by_id, e.acknowledged_at)
        for e in await uow.escalations.of_case(case.id)
        if e.acknowledged_by_id is not None and e.acknowledged_at is not None
    }
    term = policy.term_on(start.astimezone(tz).date())
    return CaseFacts(
        case_id=case.id,
        status=case.status,
        category_scheme=case.category_scheme,
        category_code=case.category_code,
        episode_start=start,
        status_since=status_since,
        verification_due_at=case.verification_due_at,
        term_start=term.starts_on if term else None,
        notice_at=max(notices) if notices else None,
        return_due_at=case.return_due_at,
        returned_on=case.returned_on,
        retention_checks_done=checks_done,
        teacher_id=teacher.id if teacher is not None else None,
        cadre_id=cadre.id if cadre is not None else None,
        absent_since=_absent_since(events, start),
        visits=_visits(since),
        dropout_since=dropped[-1] if dropped else None,
        classified_at=classified.recorded_at if classified else None,
        last_recheck_at=recheck.recorded_at if recheck else None,
        reported_at=reported.recorded_at if reported else None,
        order_due=_day((order.data or {}).get("due")) if order else None,
        referred_at=referred.recorded_at if referred else None,
        deferred_until=_day((deferral.data or {}).get("until")) if deferral else None,
        closing_proposed_at=proposed,
        reworks=reworks,
        acks=acks,
        people=people,
        roles=roles,
        school_less=school_less,
    )


async def escalation_target(uow: UnitOfWork, staff: Staff, case: Case | None) -> list[Staff]:
    """Who is told instead when someone cannot be reached: teachers and cadres → the principal,
    principals → township officers, township officers → county officers. For a child on no school roll
    (失学) a cadre's stand-in is the township officer."""
    role = Role(staff.role)
    school_id = staff.school_id
    if case is not None and school_id is None:
        student = await uow.students.get(case.student_id)
        school_id = student.school_id if student is not None else None
        if student is not None and school_id is None and role is Role.VILLAGE_CADRE:
            officers = (await officers_above(uow, student.home_village_id)).get(Role.TOWNSHIP_OFFICER, ())
            return [s for i in officers if (s := await uow.directory.staff(i)) is not None]
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
