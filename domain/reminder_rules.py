"""Which reminders a case wants right now: a pure function of the case's facts and the policy file.

Each wanted reminder has a stable key, `kind:case:anchor:recipient`. The anchor names the deadline
instance (the absence report, the notice, the return date and check number) and never the due time,
so a changed policy duration moves a pending reminder instead of creating a second one, and a reminder
already sent is never sent again because its deadline was recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.lifecycle import CaseStatus
from domain.policy import Policy

S = CaseStatus
VERIFICATION_SCHEME = "verification_2019"  # an official verification outcome clears the 15-day rule
# Statuses in which the first home visit is still awaited.
AWAITING_VISIT = frozenset({S.ABSENT, S.SUSPECTED})
# Statuses without a verification outcome (DOMAIN.md §3).
UNVERIFIED = frozenset({S.ABSENT, S.SUSPECTED, S.VERIFYING})
# Roles whose reminders are collected into one daily digest instead of one message per case.
DIGEST_ROLES = frozenset({"principal", "township_officer", "county_officer", "admin"})

VISIT_DUE = "visit_due"
VISIT_OVERDUE = "visit_overdue"
VERIFICATION_OVERDUE = "verification_overdue"
RETURN_CHECK = "return_check"
NOTICE_EXPIRED = "notice_expired"
RETENTION_CHECK = "retention_check"
MONTHLY_REPORT = "monthly_report"
DIGEST = "digest"
KINDS = (
    VISIT_DUE,
    VISIT_OVERDUE,
    VERIFICATION_OVERDUE,
    RETURN_CHECK,
    NOTICE_EXPIRED,
    RETENTION_CHECK,
    MONTHLY_REPORT,
    DIGEST,
)


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about one case, gathered by `reminder_facts.case_facts`."""

    case_id: int
    status: str
    category_scheme: str | None
    episode_start: datetime  # when the current absence was reported (the case opened or relapsed)
    visit_logged: bool  # a home visit was logged since episode_start
    verification_due_at: datetime | None  # set when the 15-day rule applies to the case
    term_start: date | None  # start of the term the case was opened in
    notice_at: datetime | None  # the latest persuasion notice served
    return_due_at: datetime | None
    returned_on: date | None
    retention_checks_done: int
    teacher_id: int | None
    people: dict[str, tuple[int, ...]] = field(default_factory=dict)  # role -> active staff ids
    roles: dict[int, str] = field(default_factory=dict)  # staff id -> role


@dataclass(frozen=True)
class Wanted:
    """One reminder the case wants: to whom, about what, due when."""

    kind: str
    case_id: int | None
    recipient_id: int
    due_at: datetime
    anchor: str
    channel: str  # direct | digest
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.case_id or '-'}:{self.anchor}:{self.recipient_id}"


def channel_for(role: str | None) -> str:
    return "digest" if role in DIGEST_ROLES else "direct"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def verification_deadline(facts: CaseFacts, policy: Policy, tz: ZoneInfo) -> datetime | None:
    """The 15-day rule's deadline for a case it applies to, from the policy as it is now."""
    if facts.verification_due_at is None:
        return None
    return policy.verification_due(facts.episode_start, tz)


def _to(facts: CaseFacts, role: str) -> tuple[int, ...]:
    return facts.people.get(role, ())


def _teacher_or_principal(facts: CaseFacts) -> tuple[int, ...]:
    """The responsible teacher; a case without one falls to the principal."""
    return (facts.teacher_id,) if facts.teacher_id is not None else _to(facts, "principal")


def desired_reminders(facts: CaseFacts, policy: Policy, tz: ZoneInfo) -> list[Wanted]:
    """Every reminder the case should have, whether already sent or not."""
    wanted: list[Wanted] = []

    def add(kind: str, recipients: tuple[int, ...], at: datetime, anchor: str, **payload: Any) -> None:
        for staff_id in dict.fromkeys(recipients):
            wanted.append(
                Wanted(
                    kind,
                    facts.case_id,
                    staff_id,
                    at.astimezone(UTC),
                    anchor,
                    channel_for(facts.roles.get(staff_id)),
                    payload,
                )
            )

    status = CaseStatus(facts.status)
    r = policy.reminders
    if status in AWAITING_VISIT and not facts.visit_logged:
        due = facts.episode_start + policy.first_visit_due
        anchor = _stamp(facts.episode_start)
        add(VISIT_DUE, _teacher_or_principal(facts), due, anchor, due=_iso(due))
        add(
            VISIT_OVERDUE,
            _to(facts, "principal"),
            due + policy.escalate_to_principal_after,
            anchor,
            due=_iso(due),
            level="principal",
        )
        add(
            VISIT_OVERDUE,
            _to(facts, "township_officer"),
            due + policy.escalate_to_township_after,
            anchor,
            due=_iso(due),
            level="township_officer",
        )
    deadline = verification_deadline(facts, policy, tz)
    if deadline is not None and status in UNVERIFIED and facts.category_scheme != VERIFICATION_SCHEME:
        for role in r.verification_notify:
            add(
                VERIFICATION_OVERDUE,
                _to(facts, role),
                deadline,
                _stamp(facts.episode_start),
                due=_iso(deadline),
                level=role,
            )
    if status is S.NOTICE_ISSUED and (facts.notice_at or facts.return_due_at):
        return_due = facts.notice_at + policy.notice_return_due if facts.notice_at else facts.return_due_at
        assert return_due is not None
        due = return_due
        anchor = _stamp(facts.notice_at or due)
        add(RETURN_CHECK, _teacher_or_principal(facts), due, anchor, due=_iso(due))
        for role in r.notice_escalate_to:
            add(
                NOTICE_EXPIRED,
                _to(facts, role),
                due + r.notice_escalate_after,
                anchor,
                due=_iso(due),
                level=role,
            )
    if status is S.RETENTION and facts.returned_on is not None:
        total = len(policy.retention_checks)
        for number, delta in enumerate(policy.retention_checks, start=1):
            if number <= facts.retention_checks_done:
                continue
            day = facts.returned_on + delta
            due = datetime.combine(day, r.time_of_day, tz)
            add(
                RETENTION_CHECK,
                _teacher_or_principal(facts),
                due,
                f"{facts.returned_on.isoformat()}#{number}",
                check=number,
                of=total,
                day=day.isoformat(),
            )
    return wanted


def retention_check_day(returned_on: date, number: int, policy: Policy) -> date:
    """The day the numbered retention check (1-based) falls due."""
    return returned_on + policy.retention_checks[number - 1]


def monthly_report_due(year: int, month: int, policy: Policy, tz: ZoneInfo) -> datetime:
    """一月一报告 (003_ee1c82519c64281c.txt): due on the configured day, in time for that day's digest."""
    local = datetime.combine(date(year, month, policy.monthly_report_day), policy.reminders.digest_time, tz)
    return local.astimezone(UTC)


def snooze_key(base_key: str, number: int) -> str:
    return f"{base_key}~s{number}"


def backoff(attempts: int, policy: Policy) -> timedelta:
    """Pause before the next try after `attempts` failed ones: retry_backoff doubled each time, ≤ 1 h."""
    return min(policy.reminders.retry_backoff * (2 ** max(0, attempts - 1)), timedelta(hours=1))
