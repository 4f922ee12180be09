"""Case use cases: open on absence, change status, reclassify. One transaction each, caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.lifecycle import CaseStatus, check_transition
from domain.casework.ownership import default_owner
from domain.errors import AbsenceAlreadyReported, InvalidInput, NotFound, NotInScope
from domain.people.roles import Role
from domain.policy import Policy
from domain.reminders.planning import plan_case_reminders
from storage.models import Case, CaseEvent, Student
from storage.scope import Scope
from storage.uow import UnitOfWork

# Scheme whose codes describe why a pupil is absent (DOMAIN.md §4, set 2).
REASON_SCHEME = "record_system"
# Scheme used to record a verification outcome (DOMAIN.md §4, set 1).
VERIFICATION_SCHEME = "verification_2019"
MAX_BACKDATE = timedelta(days=366)
# Statuses in which a new absence report starts a new episode of the case (see `_again`).
_DONE_WITH = (CaseStatus.RETURNED, CaseStatus.RETENTION, CaseStatus.CLOSED, CaseStatus.CLEARED)
# Timeline entries that begin an episode: the case opened, or opened again by a later absence.
_EPISODE_STARTS = ("opened", "relapse", "reopened")


@dataclass
class AbsenceReport:
    """What a teacher tells us about an absent pupil."""

    student_id: int
    absent_since: date
    reason_code: str | None = None  # a code of REASON_SCHEME, or None for "not known yet"
    # Key-group codes the teacher confirmed: they replace the non-sensitive flags on file, so an empty
    # list clears them; None (roll call, cross-checks) leaves the flags as they are.
    flags: list[str] | None = None
    note: str | None = None
    suspected: bool = False  # roll call and cross-checks open suspected cases directly


def add_event(
    uow: UnitOfWork,
    case: Case,
    kind: str,
    actor: Actor,
    at: datetime,
    *,
    occurred_at: datetime | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    **data: Any,
) -> CaseEvent:
    """Appends one entry to the case timeline (never updated or deleted afterwards)."""
    event = CaseEvent(
        case_id=case.id,
        kind=kind,
        occurred_at=occurred_at or at,
        recorded_at=at,
        actor_id=actor.staff_id,
        from_status=from_status,
        to_status=to_status,
        data=data,
    )
    uow.session.add(event)
    return event


async def student_in_scope(
    uow: UnitOfWork, scope: Scope, actor: Actor, student_id: int, now: datetime
) -> Student:
    """The student, or NotInScope (logged) when the actor may not see them."""
    student = await uow.students.in_scope(scope, student_id)
    if student is None:
        audit(uow, actor, now, "denied", "student", student_id)
        raise NotInScope(f"student {student_id}")
    return student


async def case_in_scope(uow: UnitOfWork, scope: Scope, actor: Actor, case_id: int, now: datetime) -> Case:
    """The case, or NotInScope (logged) when the actor may not act on it."""
    case = await uow.cases.in_scope(scope, case_id)
    if case is None:
        audit(uow, actor, now, "denied", "case", case_id)
        raise NotInScope(f"case {case_id}")
    return case


def check_past_date(day: date, now: datetime, tz: ZoneInfo, field_name: str) -> None:
    """Dates of events must not lie in the future nor more than a year back."""
    today = now.astimezone(tz).date()
    if day > today:
        raise InvalidInput("date_in_future", field=field_name)
    if day < today - MAX_BACKDATE:
        raise InvalidInput("date_too_old", field=field_name)


async def cadre_of(uow: UnitOfWork, student: Student) -> int | None:
    """The cadre of the pupil's home village."""
    if student.home_village_id is None:
        return None
    cadres = await uow.directory.staff_in_area(student.home_village_id, Role.VILLAGE_CADRE.value)
    return cadres[0].id if cadres else None


async def _checked_flags(uow: UnitOfWork, student: Student, flags: list[str] | None) -> None:
    """Key-group flags from chat: sensitive ones (religion, a parent in prison, …) are set only by
    coordinators on the dashboard, so chat can neither set nor clear them."""
    if flags is None:
        return
    codes = {c.code: c for c in await uow.codes.scheme("key_group")}
    if unknown := {f for f in flags if f not in codes or codes[f].sensitive}:
        raise InvalidInput("unknown_flag", flags=sorted(unknown))
    kept = [f for f in await uow.students.flags(student.id) if f not in codes or codes[f].sensitive]
    await uow.students.set_flags(student.id, [*flags, *kept])


def _suspected(report: AbsenceReport, now: datetime, policy: Policy, tz: ZoneInfo) -> bool:
    return report.suspected or now.astimezone(tz).date() - report.absent_since >= policy.suspect_after


async def _again(
    uow: UnitOfWork,
    case: Case,
    report: AbsenceReport,
    actor: Actor,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> None:
    """A new absence of a pupil whose case was done with: back in school (retention) or closed this
    school year is a relapse of the same case; cleared (核减) is verified again."""
    if case.status == CaseStatus.CLEARED:
        await change_status(
            uow, case, CaseStatus.VERIFYING, actor, now=now, kind="reopened", reason="absent_again"
        )
        return
    kind = "relapse" if case.status in (CaseStatus.RETURNED, CaseStatus.RETENTION) else "reopened"
    if case.status == CaseStatus.RETURNED:
        await change_status(uow, case, CaseStatus.RETENTION, actor, now=now)
    case.first_absent_on = report.absent_since
    case.returned_on = None
    case.visit_due_at = policy.visit_due(now)
    case.verification_due_at = case.return_due_at = None
    await change_status(uow, case, CaseStatus.ABSENT, actor, now=now, kind=kind, reason="absent_again")
    if _suspected(report, now, policy, tz):
        case.verification_due_at = policy.verification_due(now, tz)
        await change_status(uow, case, CaseStatus.SUSPECTED, actor, now=now)


async def _check_not_reported(uow: UnitOfWork, case: Case, absent_since: date) -> None:
    """Raises AbsenceAlreadyReported when the case's current episode already has a report of an absence
    starting on the same day: a repeated report (a second tap, the form filled in again after a lost
    reply, two teachers of the class) must not be counted twice.

    Only the same first day counts. A different start while the case is open is a different statement
    that is kept: an earlier day corrects when the absence began, a later one may come with news (a
    reason learned since). A pupil who came back and is absent again is a new episode (`_again`), so a
    new absence after a return is always recorded."""
    if case.status in _DONE_WITH:
        return
    events = await uow.cases.events(case.id)
    starts = [e.recorded_at for e in events if e.kind in _EPISODE_STARTS]
    since = starts[-1] if starts else None
    wanted = absent_since.isoformat()
    for event in events:
        if (
            event.kind == "absence_reported"
            and event.data.get("absent_since") == wanted
            and (since is None or event.recorded_at >= since)
        ):
            raise AbsenceAlreadyReported(case.number, event.recorded_at)


async def report_absence(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    report: AbsenceReport,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> tuple[Case, bool]:
    """Opens a case for the absent pupil, or adds the report to their open case (reopening it if they
    were back in school, cleared, or closed within this school year). Returns (case, created).
    The same absence reported again raises AbsenceAlreadyReported, before anything is written."""
    student = await student_in_scope(uow, scope, actor, report.student_id, now)
    if (
        student.school_id is None
    ):  # a child on no roll is a 失学 case (domain.school_age.out_of_school), not absent
        raise InvalidInput("not_on_roll")
    check_past_date(report.absent_since, now, tz, "absent_since")
    if report.reason_code is not None and await uow.codes.get(REASON_SCHEME, report.reason_code) is None:
        raise InvalidInput("unknown_code", value=report.reason_code)
    if (open_case := await uow.cases.open_for_student(student.id)) is not None:
        await _check_not_reported(uow, open_case, report.absent_since)
    await _checked_flags(uow, student, report.flags)
    data: dict[str, Any] = {
        "absent_since": report.absent_since.isoformat(),
        "reason_code": report.reason_code,
        "flags": sorted(report.flags or []),
        "note": report.note,
    }

    case = open_case
    if case is None:
        latest = await uow.cases.latest_for_student(student.id)
        year_start = policy.steps.school_year_start(now.astimezone(tz).date())
        if (
            latest is not None
            and latest.closed_at is not None
            and latest.closed_at.astimezone(tz).date() >= year_start
        ):
            case = latest
    if case is not None:
        add_event(uow, case, "absence_reported", actor, now, **data)
        if case.status in _DONE_WITH:
            await _again(uow, case, report, actor, now=now, policy=policy, tz=tz)
        elif case.first_absent_on is None or report.absent_since < case.first_absent_on:
            case.first_absent_on = report.absent_since
        case.updated_at = now
        await uow.flush()
        await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
        return case, False

    suspected = _suspected(report, now, policy, tz)
    status = CaseStatus.SUSPECTED if suspected else CaseStatus.ABSENT
    case = Case(
        number=await uow.cases.next_number(now.astimezone(tz).year),
        student_id=student.id,
        status=status.value,
        category_scheme=REASON_SCHEME if report.reason_code else None,
        category_code=report.reason_code,
        reason=report.note,
        responsible_teacher_id=await default_owner(uow, student, actor.staff_id),
        responsible_cadre_id=await cadre_of(uow, student),
        first_absent_on=report.absent_since,
        opened_at=now,
        updated_at=now,
        visit_due_at=policy.visit_due(now),
        verification_due_at=policy.verification_due(now, tz) if suspected else None,
    )
    uow.session.add(case)
    await uow.flush()
    add_event(uow, case, "opened", actor, now, to_status=status.value)
    add_event(uow, case, "absence_reported", actor, now, **data)
    audit(uow, actor, now, "create", "case", case.id)
    await uow.flush()
    await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return case, True


async def change_status(
    uow: UnitOfWork,
    case: Case,
    target: CaseStatus,
    actor: Actor,
    *,
    now: datetime,
    kind: str = "status_changed",
    policy: Policy | None = None,
    tz: ZoneInfo | None = None,
    **data: Any,
) -> CaseEvent:
    """Moves the case through the lifecycle table; an illegal move raises InvalidTransition.
    With `policy` and `tz` the case's reminders are replanned in the same transaction (without them
    the calling use case must call `plan_case_reminders` itself)."""
    previous = case.status
    new = check_transition(previous, target)
    case.status = new.value
    case.updated_at = now
    if new is CaseStatus.CLOSED:
        case.closed_at = now
    elif previous == CaseStatus.CLOSED:
        case.closed_at = None
    event = add_event(uow, case, kind, actor, now, from_status=previous, to_status=new.value, **data)
    audit(uow, actor, now, "update", "case", case.id, status=new.value)
    await uow.flush()
    if policy is not None and tz is not None:
        await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return event


async def reclassify(
    uow: UnitOfWork,
    case: Case,
    scheme: str,
    code: str,
    actor: Actor,
    *,
    now: datetime,
    free_text: str | None = None,
) -> CaseEvent:
    """Sets the official category; the previous one stays in the timeline."""
    if await uow.codes.get(scheme, code) is None:
        raise InvalidInput("unknown_code", value=code)
    before = {"scheme": case.category_scheme, "code": case.category_code}
    case.category_scheme, case.category_code = scheme, code
    case.updated_at = now
    event = add_event(
        uow,
        case,
        "reclassified",
        actor,
        now,
        before=before,
        after={"scheme": scheme, "code": code},
        free_text=free_text,
    )
    audit(uow, actor, now, "update", "case", case.id, category=f"{scheme}:{code}")
    await uow.flush()
    return event


async def get_case(uow: UnitOfWork, case_id: int) -> Case:
    case = await uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"case {case_id}")
    return case
