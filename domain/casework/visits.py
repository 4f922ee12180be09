"""Home visits: one call records one persuasion attempt and moves the case along the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import add_event, case_in_scope, change_status, check_past_date
from domain.casework.lifecycle import VISITABLE, CaseStatus, check_transition
from domain.errors import InvalidInput, InvalidTransition
from domain.people.roles import Role
from domain.policy import Policy
from domain.reminders.facts import _episode_start
from domain.reminders.planning import plan_case_reminders
from storage.models import Attachment, Case, CaseEvent, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork

S = CaseStatus
# How the visit took place: at home (入户家访), by phone, by video call, or a talk at school (到校约谈).
HOME, PHONE, VIDEO, SCHOOL = "home", "phone", "video", "school"
MODES = (HOME, PHONE, VIDEO, SCHOOL)
IN_PERSON = (HOME, SCHOOL)  # photos are evidence of these; a notice is served face to face
NOBODY = "nobody"
MET = ("guardian", "student", "both", NOBODY)
AGREED, REFUSED, ELSEWHERE, WORKING, ILL, UNREACHABLE, OTHER = (
    "agreed_to_return",
    "refused",
    "enrolled_elsewhere",
    "working_away",
    "ill_or_disabled",
    "unreachable",
    "other",
)
OUTCOMES = (AGREED, REFUSED, ELSEWHERE, WORKING, ILL, UNREACHABLE, OTHER)
NEEDS_SOMEONE_MET = (AGREED, REFUSED)  # nobody met: nobody agreed, nobody refused
ANY = "*"
MAX_PHOTOS = 5
PROMISE_HORIZON = timedelta(days=60)  # a promised return further away is not a promise to follow up
FOLLOW_UP_HORIZON = timedelta(days=60)  # the visitor's own next follow-up date, at most this far ahead

# Where a visit moves the case: status → outcome (or ANY) → the statuses it passes through, in order.
# Every step goes through `change_status`, so the lifecycle table still has the last word.
# - The first visit of an absent/suspected/missing pupil is the verification (核查) itself.
# - Refusal or work away confirms the pupil is not attending: a dropout (辍学). An absent pupil
#   passes through verifying first, because absent → dropped_out is not a lifecycle move.
# - Any visit to a confirmed dropout starts persuasion (劝返).
# - Enrolled elsewhere stays under verification: the coordinator clears it with an official code.
# - Nobody reachable changes nothing; the visit is only noted in the timeline.
# - Persuading / notice issued / escalated cases are not moved by a visit (return and escalation
#   have their own flows); serving the notice is handled separately (NOTICE below).
VISIT_MOVES: dict[CaseStatus, dict[str, tuple[CaseStatus, ...]]] = {
    S.ABSENT: {
        ANY: (S.VERIFYING,),
        REFUSED: (S.VERIFYING, S.DROPPED_OUT),
        WORKING: (S.VERIFYING, S.DROPPED_OUT),
        UNREACHABLE: (),
    },
    S.SUSPECTED: {ANY: (S.VERIFYING,), REFUSED: (S.DROPPED_OUT,), WORKING: (S.DROPPED_OUT,), UNREACHABLE: ()},
    S.VERIFYING: {REFUSED: (S.DROPPED_OUT,), WORKING: (S.DROPPED_OUT,)},
    S.MISSING: {ANY: (S.VERIFYING,), REFUSED: (S.DROPPED_OUT,), WORKING: (S.DROPPED_OUT,), UNREACHABLE: ()},
    S.DROPPED_OUT: {ANY: (S.PERSUADING,), UNREACHABLE: ()},
}
# Serving the written notice (劝返复学通知书) moves the case here and starts the 7-day clock.
NOTICE = S.NOTICE_ISSUED


@dataclass
class VisitReport:
    """What the visitor tells us about one home visit."""

    case_id: int
    visited_on: date
    met: str
    outcome: str
    visitors: list[int] = field(default_factory=list)  # colleagues; the actor is always included
    mode: str = HOME  # one of MODES
    promised_return_on: date | None = None  # outcome AGREED
    other_school: str | None = None  # outcome ELSEWHERE
    outcome_detail: str | None = None  # outcome OTHER
    notice_served: bool = False
    location: tuple[float, float] | None = None  # home visits only
    no_location_reason: str | None = None  # a home visit without a location says why
    next_follow_up_on: date | None = None  # None: the policy's default interval
    note: str | None = None
    attachment_ids: list[int] = field(default_factory=list)  # at least one for in-person visits


def planned_moves(status: str, outcome: str, notice_served: bool) -> list[CaseStatus]:
    """The statuses a visit moves the case through; raises InvalidTransition before anything changes."""
    row = VISIT_MOVES.get(CaseStatus(status), {})
    path = list(row.get(outcome, row.get(ANY, ())))
    if notice_served and (path[-1] if path else CaseStatus(status)) is not NOTICE:
        path.append(NOTICE)
    current = CaseStatus(status)
    for target in path:
        current = check_transition(current, target)
    return path


def outcomes_for(met: str | None) -> tuple[str, ...]:
    """The outcomes a visit can have given whom it met."""
    return tuple(o for o in OUTCOMES if not (met == NOBODY and o in NEEDS_SOMEONE_MET))


def check_notice(status: str, outcome: str, *, mode: str, earlier_visits: int, min_prior_visits: int) -> None:
    """Raises unless the written notice (劝返复学通知书) may be recorded as served on this visit: the
    dropout is confirmed (InvalidTransition otherwise), it is handed over in person, and persuasion
    visits came first (policy.steps.notice_min_prior_visits)."""
    planned_moves(status, outcome, True)
    if mode not in IN_PERSON:
        raise InvalidInput("notice_in_person_only")
    if earlier_visits < min_prior_visits:
        raise InvalidInput("notice_too_early", minimum=min_prior_visits, visits=earlier_visits)


def notice_allowed(
    status: str, outcome: str, *, mode: str, earlier_visits: int, min_prior_visits: int
) -> bool:
    """Whether `check_notice` lets the notice be recorded as served (what the form offers)."""
    try:
        check_notice(
            status, outcome, mode=mode, earlier_visits=earlier_visits, min_prior_visits=min_prior_visits
        )
    except (InvalidTransition, InvalidInput, ValueError):
        return False
    return True


async def earlier_visits(uow: UnitOfWork, case: Case) -> int:
    """Visits already logged in the case's current episode (since it was opened or last relapsed)."""
    events = await uow.cases.events(case.id)
    start = _episode_start(case, events)
    return sum(1 for e in events if e.kind == "visit_logged" and e.recorded_at >= start)


def visit_moment(day: date, now: datetime, tz: ZoneInfo) -> datetime:
    """When the visit happened: now if today, else noon of that day (only the date is known)."""
    if now.astimezone(tz).date() == day:
        return now
    return datetime.combine(day, time(12, 0), tz)


async def eligible_visitors(uow: UnitOfWork, case: Case) -> list[Staff]:
    """Colleagues who may have come along: the responsible cadre and teacher, the class's teachers,
    the principal. Ordered as listed, without duplicates or inactive staff."""
    student = await uow.students.get(case.student_id)
    assert student is not None
    ids: list[int] = [i for i in (case.responsible_cadre_id, case.responsible_teacher_id) if i is not None]
    ids += [a.staff_id for a in await uow.directory.assignments_of_class(student.class_id)]
    ids += [s.id for s in await uow.directory.staff_of_school(student.school_id, Role.PRINCIPAL.value)]
    found = [await uow.directory.staff(i) for i in dict.fromkeys(ids)]
    return [s for s in found if s is not None and s.active]


def _check_answers(report: VisitReport, case: Case, now: datetime, tz: ZoneInfo) -> None:
    check_past_date(report.visited_on, now, tz, "visited_on")
    if case.first_absent_on is not None and report.visited_on < case.first_absent_on:
        raise InvalidInput("visit_before_absence", first_absent_on=case.first_absent_on.isoformat())
    if report.met not in MET:
        raise InvalidInput("unknown_met", value=report.met)
    if report.outcome not in OUTCOMES:
        raise InvalidInput("unknown_outcome", value=report.outcome)
    if report.outcome not in outcomes_for(report.met):
        raise InvalidInput("outcome_needs_someone_met", outcome=report.outcome)
    _check_dates(report, now.astimezone(tz).date())
    if (report.outcome == ELSEWHERE) != bool((report.other_school or "").strip()):
        raise InvalidInput("other_school")
    if (report.outcome == OTHER) != bool((report.outcome_detail or "").strip()):
        raise InvalidInput("outcome_detail")
    _check_evidence(report)


def _check_dates(report: VisitReport, today: date) -> None:
    promised = report.promised_return_on
    if (promised is None) == (report.outcome == AGREED) or (
        promised is not None and not report.visited_on <= promised <= today + PROMISE_HORIZON
    ):
        raise InvalidInput("promised_return_on", days=PROMISE_HORIZON.days)
    follow_up = report.next_follow_up_on
    earliest = max(report.visited_on + timedelta(days=1), today)
    if follow_up is not None and not earliest <= follow_up <= today + FOLLOW_UP_HORIZON:
        raise InvalidInput("next_follow_up_on", earliest=earliest.isoformat(), days=FOLLOW_UP_HORIZON.days)


def _check_evidence(report: VisitReport) -> None:
    """Photos for in-person visits; a location (or why not) for home visits only."""
    if report.mode not in MODES:
        raise InvalidInput("unknown_mode", value=report.mode)
    if report.mode in IN_PERSON and not report.attachment_ids:
        raise InvalidInput("photos_required")
    if len(set(report.attachment_ids)) > MAX_PHOTOS:
        raise InvalidInput("too_many_photos", maximum=MAX_PHOTOS)
    if report.mode != HOME:
        if report.location is not None:
            raise InvalidInput("location_only_for_home_visits")
        return
    if report.location is None and not (report.no_location_reason or "").strip():
        raise InvalidInput("no_location_reason")
    if report.location is not None and not (
        -90 <= report.location[0] <= 90 and -180 <= report.location[1] <= 180
    ):
        raise InvalidInput("location")


async def _check_people_and_files(
    uow: UnitOfWork, report: VisitReport, case: Case, actor: Actor
) -> list[Attachment]:
    allowed = {s.id for s in await eligible_visitors(uow, case)}
    if stray := set(report.visitors) - allowed - {actor.staff_id}:
        raise InvalidInput("visitor_not_eligible", staff=sorted(stray))
    wanted = list(dict.fromkeys(report.attachment_ids))
    attachments = list(await uow.attachments.by_ids(wanted))
    ok = {
        a.id
        for a in attachments
        if a.case_id == case.id and a.uploaded_by_id == actor.staff_id and a.event_id is None
    }
    if missing := [i for i in wanted if i not in ok]:
        raise InvalidInput("attachment_not_yours", attachments=missing)
    return attachments


def _event_data(report: VisitReport, actor: Actor, attachments: list[Attachment]) -> dict[str, Any]:
    visitors = sorted({*report.visitors, *([actor.staff_id] if actor.staff_id is not None else [])})
    lat_lon = {"lat": report.location[0], "lon": report.location[1]} if report.location else None
    return {
        "visited_on": report.visited_on.isoformat(),
        "mode": report.mode,
        "visitors": visitors,
        "met": report.met,
        "outcome": report.outcome,
        "promised_return_on": report.promised_return_on.isoformat() if report.promised_return_on else None,
        "other_school": report.other_school,
        "outcome_detail": report.outcome_detail,
        "notice_served": report.notice_served,
        "location": lat_lon,
        "no_location_reason": report.no_location_reason
        if report.mode == HOME and not report.location
        else None,
        "next_follow_up_on": report.next_follow_up_on.isoformat() if report.next_follow_up_on else None,
        "note": report.note,
        "attachments": [a.id for a in attachments],
    }


async def record_visit(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    report: VisitReport,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> CaseEvent:
    """Adds the visit to the case timeline, links its photos and applies VISIT_MOVES (and the notice).
    Everything is checked before anything changes; the caller commits."""
    case = await case_in_scope(uow, scope, actor, report.case_id, now)
    if case.status not in VISITABLE:
        raise InvalidInput("case_not_visitable", status=case.status)
    _check_answers(report, case, now, tz)
    attachments = await _check_people_and_files(uow, report, case, actor)
    path = planned_moves(case.status, report.outcome, report.notice_served)
    if report.notice_served:
        check_notice(
            case.status,
            report.outcome,
            mode=report.mode,
            earlier_visits=await earlier_visits(uow, case),
            min_prior_visits=policy.steps.notice_min_prior_visits,
        )

    visit = add_event(
        uow,
        case,
        "visit_logged",
        actor,
        now,
        occurred_at=visit_moment(report.visited_on, now, tz),
        **_event_data(report, actor, attachments),
    )
    case.updated_at = now
    await uow.flush()
    for attachment in attachments:
        attachment.event_id = visit.id
    for target in path:
        if target is NOTICE:
            case.return_due_at = policy.return_due(now)  # 7-day rule, 001_66f255ef30f14f7a.txt
        await change_status(
            uow,
            case,
            target,
            actor,
            now=now,
            visit_event=visit.id,
            kind="notice_served" if target is NOTICE else "status_changed",
        )
    if report.notice_served and NOTICE not in path:  # served again on a case already at that status
        case.return_due_at = policy.return_due(now)
        add_event(uow, case, "notice_served", actor, now, visit_event=visit.id)
    audit(uow, actor, now, "create", "visit", visit.id, case=case.id)
    # The visit ends the first-visit reminders; a served notice starts the return check.
    await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return visit
