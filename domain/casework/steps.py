"""The next dated steps of a case: a pure function of the case's facts and the policy.

Every open case that is not cleared has at least one step, and each step names who must act (the owner
or a coordinator level) and by when; the reminders (domain.reminders.rules), the "next step" columns the
dashboard filters on (domain.reminders.planning), the automatic moves (domain.casework.automatic) and the no-silent-case
invariant (domain.casework.invariant) are all read from here. Official rules are cited with their seed file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.calendar.workdays import after_school_days
from domain.casework.lifecycle import CaseStatus
from domain.policy import Policy

S = CaseStatus
OWNER = "owner"
# Who may be asked to act, lowest first; an unacknowledged escalation climbs this ladder. It stops at the
# county: city and province officers review their area (domain.reports.review_delivery), they do no casework.
LEVELS = (OWNER, "principal", "township_officer", "county_officer")
VERIFICATION_SCHEME = "verification_2019"
# Verification codes that keep a case open under periodic re-checks (DOMAIN.md §4: I and L "stay suspected").
RECHECKED_CODES = frozenset({"I", "L"})

# Step kinds. Automatic ones are carried out by the system when due (domain.casework.automatic).
FIRST_VISIT, NEXT_VISIT, PERSUADE, PROMISE_CHECK = "first_visit", "next_visit", "persuade", "promise_check"
VERIFY, RECHECK_VISIT, MISSING_RECHECK = "verify", "recheck_visit", "missing_recheck"
RETURN_CHECK, REPORT, ORDER, COMPLIANCE_CHECK, LEGAL_FOLLOW_UP = (
    "return_check",
    "report",
    "order",
    "compliance_check",
    "legal_follow_up",
)
RETENTION_CHECK, APPROVE_CLOSING, PROPOSE_CLOSING, DEFERRAL_END = (
    "retention_check",
    "approve_closing",
    "propose_closing",
    "deferral_end",
)
PROMOTE, NOTICE_EXPIRES, DEFERRAL_EXPIRES = "promote", "notice_expires", "deferral_expires"
AUTOMATIC = frozenset({PROMOTE, NOTICE_EXPIRES, DEFERRAL_EXPIRES})


@dataclass(frozen=True)
class VisitFact:
    """One home visit of the current episode, as the rules see it."""

    at: datetime  # when it happened
    recorded_at: datetime
    outcome: str
    promised_return_on: date | None = None
    next_follow_up_on: date | None = None
    visitors: tuple[int, ...] = ()  # staff who went (the village cadre among them, often)


@dataclass(frozen=True)
class Ack:
    staff_id: int
    at: datetime


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about one case, gathered by `domain.reminders.facts.case_facts`."""

    case_id: int
    status: str
    category_scheme: str | None
    episode_start: datetime  # when the current absence was reported (the case opened or relapsed)
    status_since: datetime  # when the case entered its current status
    verification_due_at: datetime | None  # set when the 15-day rule applies to the case
    term_start: date | None  # start of the term the case was opened in
    notice_at: datetime | None  # the latest persuasion notice served
    return_due_at: datetime | None
    returned_on: date | None
    retention_checks_done: int
    teacher_id: int | None  # the owner (responsible teacher), if active
    cadre_id: int | None = None  # the village cadre of the pupil's home village, if active
    category_code: str | None = None
    absent_since: date | None = None  # the first day of the current absence
    visits: tuple[VisitFact, ...] = ()  # visits of the current episode, oldest first
    dropout_since: datetime | None = None  # when the case last entered "dropped out"
    classified_at: datetime | None = None  # the latest verification decision (classify I/L)
    last_recheck_at: datetime | None = None  # the latest re-check recorded in the current status
    reported_at: datetime | None = None  # the school's written report (上报) in the current escalation
    order_due: date | None = None  # the latest order to comply (责令限期改正), its deadline
    referred_at: datetime | None = None  # referral to the justice route
    deferred_until: date | None = None  # a deferral (缓学, E) ends on this day
    closing_proposed_at: datetime | None = None  # a proposal to close awaiting approval
    reworks: tuple[datetime, ...] = ()  # closings sent back since the return
    acks: dict[str, Ack] = field(default_factory=dict)  # escalation identity -> acknowledgement
    people: dict[str, tuple[int, ...]] = field(default_factory=dict)  # role -> active staff ids
    roles: dict[int, str] = field(default_factory=dict)  # staff id -> role
    # A child on no school roll (失学, not yet enrolled): no school and no principal; the township owns
    # the case and the village cadre visits (see `_school_less`).
    school_less: bool = False

    @property
    def visit_logged(self) -> bool:
        return bool(self.visits)


@dataclass(frozen=True)
class Step:
    """One thing that must happen by `due_at`, and who must do it (`actor`: a LEVELS entry)."""

    kind: str
    due_at: datetime
    actor: str
    anchor: str  # names the deadline instance; never the due time, so a policy change moves it
    remind_at: datetime | None = None  # when the actor is told (default: when due)
    escalates: bool = True
    detail: dict[str, object] = field(default_factory=dict, hash=False, compare=False)  # for the message
    with_cadre: bool = False  # the village cadre is told too (returns to confirm, visits they joined)

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC

    @property
    def identity(self) -> str:
        """Names the escalation of this step (domain.casework.escalations)."""
        return f"{self.kind}@{self.anchor}"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def verification_deadline(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> datetime:
    """The 15-day rule (004_4b017d4e2bf19d2a.txt: 开学后15天内) from the policy as it is now; a case
    that reached verification without it gets the verification window from then."""
    if f.verification_due_at is not None:
        return policy.verification_due(f.episode_start, tz)
    return f.status_since + policy.verification_window


def _on_day(day: date, policy: Policy, tz: ZoneInfo) -> datetime:
    """A step tied to a day is due at the reminders' time of day."""
    return datetime.combine(day, policy.reminders.time_of_day, tz)


def _promise(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    """A return promised at the latest visit is checked the day after (policy promise_grace)."""
    last = f.visits[-1] if f.visits else None
    if last is None or last.promised_return_on is None:
        return []
    due = _on_day(last.promised_return_on, policy, tz) + policy.steps.promise_grace
    promised = last.promised_return_on.isoformat()
    return [Step(PROMISE_CHECK, due, OWNER, promised, detail={"promised": promised}, with_cadre=True)]


def _joined(f: CaseFacts, last: VisitFact) -> bool:
    """The village cadre went on the last visit: they are reminded of the next one too."""
    return f.cadre_id is not None and f.cadre_id in last.visitors


def _visit_after(last: VisitFact, default: timedelta, policy: Policy, tz: ZoneInfo) -> datetime:
    """The next visit: on the date the visitor set, else `default` after this one."""
    if last.next_follow_up_on is not None:
        return _on_day(last.next_follow_up_on, policy, tz)
    return last.at + default


def _awaiting_verification(f: CaseFacts, policy: Policy, tz: ZoneInfo, status: CaseStatus) -> list[Step]:
    """Absent and suspected: a visit (the first, or the next after reaching nobody); absent ones become
    suspected after a number of school days, suspected ones must be verified within the 15-day rule."""
    sp = policy.steps
    steps = []
    if not f.visits:
        due = f.episode_start + policy.first_visit_due
        steps.append(Step(FIRST_VISIT, due, OWNER, stamp(f.episode_start)))
    else:
        last = f.visits[-1]
        due = _visit_after(last, sp.visit_retry, policy, tz)
        steps.append(Step(NEXT_VISIT, due, OWNER, stamp(last.recorded_at), with_cadre=_joined(f, last)))
    if status is S.ABSENT:
        first = f.absent_since or f.episode_start.astimezone(tz).date()
        steps.append(
            Step(
                PROMOTE,
                after_school_days(first, sp.promote_after_school_days, policy, tz),
                OWNER,
                stamp(f.episode_start),
            )
        )
    elif f.verification_due_at is not None:
        steps.append(Step(VERIFY, verification_deadline(f, policy, tz), "principal", stamp(f.episode_start)))
    return steps


def _verifying(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    if f.category_scheme == VERIFICATION_SCHEME and f.category_code in RECHECKED_CODES:
        # Classified I (illness) or L (home schooling): stays open, visited again periodically.
        since = max(
            [t for t in (f.classified_at, f.status_since) if t is not None]
            + [v.at for v in f.visits if v.at >= f.status_since]
        )
        steps = [Step(RECHECK_VISIT, since + policy.steps.classified_recheck, OWNER, stamp(since))]
    else:
        # The principal is asked for the outcome as soon as the visits have verified the case.
        due = verification_deadline(f, policy, tz)
        steps = [Step(VERIFY, due, "principal", stamp(f.episode_start), remind_at=min(due, f.status_since))]
    return steps + _promise(f, policy, tz)


def _persuading(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    """A confirmed dropout is visited soon, then regularly (劝返: every attempt recorded)."""
    since = f.dropout_since or f.status_since
    later = [v for v in f.visits if v.at >= since]
    if later:
        last = later[-1]
        due = _visit_after(last, policy.steps.persuasion_every, policy, tz)
        step = Step(PERSUADE, due, OWNER, stamp(last.recorded_at), with_cadre=_joined(f, last))
    else:
        step = Step(PERSUADE, since + policy.first_visit_due, OWNER, stamp(since))
    return [step, *_promise(f, policy, tz)]


def _escalated(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    """After the notice period: the school reports in writing (004_4b017d4e2bf19d2a.txt: 学校要及时书面报告
    县级教育主管部门和乡镇政府), the township or county orders compliance (义务教育法 Art. 58, DOMAIN.md §3),
    then refers the case to the justice route and follows it up."""
    sp = policy.steps
    if f.reported_at is None and not f.school_less:  # a child with no school: no school's report
        due = f.status_since + sp.report_within  # asked at once, due within report_within
        return [Step(REPORT, due, "principal", stamp(f.status_since), remind_at=f.status_since)]
    reported = f.reported_at or f.status_since
    if f.order_due is None:
        due = reported + sp.order_within
        return [Step(ORDER, due, "township_officer", stamp(reported), remind_at=reported)]
    if f.referred_at is None:
        due = datetime.combine(f.order_due + timedelta(days=1), time(0, 0), tz)
        return [Step(COMPLIANCE_CHECK, due, "township_officer", f.order_due.isoformat())]
    since = max(f.referred_at, f.last_recheck_at or f.referred_at)
    return [Step(LEGAL_FOLLOW_UP, since + sp.legal_follow_up, "township_officer", stamp(since))]


def _retention(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    """Checks after the return; the last one passing proposes closing (销号), which a principal or
    township officer approves; a closing sent back adds one more check."""
    assert f.returned_on is not None
    sp = policy.steps
    days = [f.returned_on + delta for delta in policy.retention_checks]
    days += [moment.astimezone(tz).date() + sp.rework_check for moment in f.reworks]
    if f.retention_checks_done < len(days):
        number = f.retention_checks_done + 1
        day = days[number - 1]
        remind = _on_day(day, policy, tz)
        anchor = f"{f.returned_on.isoformat()}#{number}"
        detail = {"check": number, "of": len(days), "day": day.isoformat()}
        return [
            Step(
                RETENTION_CHECK,
                remind + sp.retention_answer_within,
                OWNER,
                anchor,
                remind_at=remind,
                detail=detail,
            )
        ]
    if f.closing_proposed_at is not None:
        return [
            Step(
                APPROVE_CLOSING,
                f.closing_proposed_at + sp.approve_within,
                "principal",
                stamp(f.closing_proposed_at),
                remind_at=f.closing_proposed_at,
            )
        ]
    return [Step(PROPOSE_CLOSING, f.status_since + sp.approve_within, OWNER, stamp(f.status_since))]


def _cleared(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    """A deferral (缓学, E) is tracked to its end date (DOMAIN.md §4), then verified again."""
    if f.deferred_until is None:
        return []
    ends = datetime.combine(f.deferred_until, time(0, 0), tz)
    anchor = f.deferred_until.isoformat()
    remind = min(ends, _on_day(f.deferred_until - policy.steps.deferral_remind_before, policy, tz))
    return [
        Step(
            DEFERRAL_END,
            ends,
            "principal",
            anchor,
            remind_at=remind,
            escalates=False,
            detail={"until": anchor},
        ),
        Step(DEFERRAL_EXPIRES, ends, OWNER, anchor),
    ]


def _school_less(steps: list[Step]) -> list[Step]:
    """A 失学 child has no school: what a principal would do falls to the township officer, the village
    cadre is told of every step of the owner (the cadre visits, the township officer owns the case), and
    the class-based move (an absence becoming suspected after school days) never applies."""
    return [
        replace(
            s,
            actor="township_officer" if s.actor == "principal" else s.actor,
            with_cadre=s.with_cadre or s.actor == OWNER,
        )
        for s in steps
        if s.kind != PROMOTE
    ]


def pending_steps(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    """Everything the case is waiting for, by status (DOMAIN.md §3)."""
    steps = _pending_steps(f, policy, tz)
    return _school_less(steps) if f.school_less else steps


def _pending_steps(f: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Step]:
    status = CaseStatus(f.status)
    if status in (S.ABSENT, S.SUSPECTED):
        return _awaiting_verification(f, policy, tz, status)
    if status is S.VERIFYING:
        return _verifying(f, policy, tz)
    if status is S.MISSING:
        since = max(f.status_since, f.last_recheck_at or f.status_since)
        return [Step(MISSING_RECHECK, since + policy.steps.missing_recheck, "principal", stamp(since))]
    if status in (S.DROPPED_OUT, S.PERSUADING):
        return _persuading(f, policy, tz)
    if status is S.NOTICE_ISSUED:
        served = f.notice_at or f.status_since
        due = (
            f.return_due_at if f.notice_at is None and f.return_due_at else served + policy.notice_return_due
        )
        # 7-day rule (001_66f255ef30f14f7a.txt): not back a week after the notice, the school reports.
        return [
            Step(RETURN_CHECK, due, OWNER, stamp(served), escalates=False, with_cadre=True),
            Step(NOTICE_EXPIRES, due + policy.reminders.notice_escalate_after, OWNER, stamp(served)),
        ]
    if status is S.ESCALATED:
        return _escalated(f, policy, tz)
    if status is S.RETENTION and f.returned_on is not None:
        return _retention(f, policy, tz)
    if status is S.CLEARED:
        return _cleared(f, policy, tz)
    return []


def next_step(steps: list[Step]) -> Step | None:
    """The earliest step someone must take (automatic moves are not anyone's step)."""
    manual = [s for s in steps if not s.automatic]
    return min(manual, key=lambda s: s.due_at) if manual else None


def next_automatic(steps: list[Step]) -> Step | None:
    automatic = [s for s in steps if s.automatic]
    return min(automatic, key=lambda s: s.due_at) if automatic else None
