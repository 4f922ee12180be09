"""Return confirmation (复学): the child is back in school; the case moves to retention follow-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.audit import Actor
from domain.casework.cases import case_in_scope, change_status, check_past_date
from domain.casework.lifecycle import CaseStatus, can_transition
from domain.errors import DomainError, InvalidInput
from domain.policy import Policy
from storage.models import Attachment, Case
from storage.scope import Scope
from storage.uow import UnitOfWork

# How the return was confirmed; "other" needs a short description.
CONFIRMATION_METHODS = ("seen_in_class", "school_confirmed", "other")
OTHER = "other"
SUPPORT_SCHEME = "support_measure"  # 保学措施 (DOMAIN.md §3: mentoring, tutoring, counselling, aid, …)
MAX_SCHOOL_NAME, MAX_CLASS_NAME = 100, 50


class AlreadyReturned(DomainError):
    """The case is already in retention (or closed): a second confirmation changes nothing."""

    def __init__(self, case: Case) -> None:
        super().__init__(f"case {case.number} is already {case.status}")
        self.case = case


@dataclass
class ReturnReport:
    """What the teacher or cadre confirms: which case, the day back at school, and how they know."""

    case_id: int
    returned_on: date
    method: str  # one of CONFIRMATION_METHODS
    method_note: str | None = None  # required when method is "other"
    attachment_ids: list[int] = field(default_factory=list)
    receiving_school: str | None = None  # None: back at the pupil's own school and class
    receiving_class: str | None = None  # required with receiving_school
    record_restored: bool | None = None  # 学籍恢复: the student record is active again (None: not said)
    support_measures: list[str] = field(default_factory=list)  # codes of SUPPORT_SCHEME


def is_returnable(case: Case) -> bool:
    """True when the lifecycle lets this case move to RETURNED."""
    return can_transition(case.status, CaseStatus.RETURNED)


async def returnable_cases(uow: UnitOfWork, scope: Scope) -> list[Case]:
    """Open cases the person may act on whose child can be confirmed back at school."""
    return [c for c in await uow.cases.open_in_scope(scope, limit=500) if is_returnable(c)]


def retention_checks_due(returned_on: date, policy: Policy) -> list[str]:
    """The retention follow-up dates (ISO) counted from the day back at school."""
    return [(returned_on + delta).isoformat() for delta in policy.retention_checks]


def _check_report(case: Case, report: ReturnReport, now: datetime, tz: ZoneInfo) -> None:
    check_past_date(report.returned_on, now, tz, "returned_on")
    if case.first_absent_on is not None and report.returned_on < case.first_absent_on:
        raise InvalidInput("returned_before_absence", earliest=case.first_absent_on.isoformat())
    if report.method not in CONFIRMATION_METHODS:
        raise InvalidInput("unknown_method", value=report.method)
    if report.method == OTHER and not (report.method_note or "").strip():
        raise InvalidInput("method_note_required")
    school, school_class = (report.receiving_school or "").strip(), (report.receiving_class or "").strip()
    if bool(school) != bool(school_class):
        raise InvalidInput("receiving_school_and_class")
    if len(school) > MAX_SCHOOL_NAME or len(school_class) > MAX_CLASS_NAME:
        raise InvalidInput("receiving_too_long", school=MAX_SCHOOL_NAME, school_class=MAX_CLASS_NAME)


async def _measures(uow: UnitOfWork, wanted: Sequence[str]) -> list[str]:
    """The support measures, each an active code of SUPPORT_SCHEME, in the code list's order."""
    active = [c.code for c in await uow.codes.scheme(SUPPORT_SCHEME)]
    if unknown := sorted(set(wanted) - set(active)):
        raise InvalidInput("unknown_support_measure", values=unknown)
    return [c for c in active if c in wanted]


async def _evidence(uow: UnitOfWork, actor: Actor, case: Case, ids: Sequence[int]) -> list[Attachment]:
    """The uploaded photos, which must be the actor's own and not belong to another case."""
    rows = []
    for attachment_id in ids:
        row = await uow.session.get(Attachment, attachment_id)
        if row is None or row.uploaded_by_id != actor.staff_id or row.case_id not in (None, case.id):
            raise InvalidInput("unknown_attachment", value=attachment_id)
        rows.append(row)
    return rows


async def confirm_return(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    report: ReturnReport,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> Case:
    """Marks the child back at school (RETURNED) and starts the retention watch (RETENTION).
    The case is closed later by the retention rule, not here."""
    case = await case_in_scope(uow, scope, actor, report.case_id, now)
    if case.status in (CaseStatus.RETURNED, CaseStatus.RETENTION, CaseStatus.CLOSED):
        raise AlreadyReturned(case)
    _check_report(case, report, now, tz)
    measures = await _measures(uow, report.support_measures)
    photos = await _evidence(uow, actor, case, report.attachment_ids)
    occurred = datetime.combine(report.returned_on, datetime.min.time(), tz)
    event = await change_status(
        uow,
        case,
        CaseStatus.RETURNED,
        actor,
        now=now,
        kind="return_confirmed",
        returned_on=report.returned_on.isoformat(),
        method=report.method,
        method_note=(report.method_note or "").strip() or None,
        attachment_ids=[p.id for p in photos],
        receiving_school=(report.receiving_school or "").strip() or None,
        receiving_class=(report.receiving_class or "").strip() or None,
        record_restored=report.record_restored,
        support_measures=measures,
    )
    event.occurred_at = occurred
    for photo in photos:
        photo.case_id, photo.event_id = case.id, event.id
    case.returned_on = report.returned_on
    # Deadlines of the absence no longer apply: no reminder may chase a child who is back.
    case.visit_due_at = case.verification_due_at = case.return_due_at = None
    # With policy and tz the reminders are replanned here: absence reminders cancelled, retention checks due.
    await change_status(
        uow,
        case,
        CaseStatus.RETENTION,
        actor,
        now=now,
        kind="retention_started",
        policy=policy,
        tz=tz,
        retention_checks_due=retention_checks_due(report.returned_on, policy),
    )
    await uow.flush()
    return case
