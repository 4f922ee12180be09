"""Which reminders a case wants right now: a pure function of the case's steps, the policy and the time.

Each step (domain.casework.steps) is told to whoever must act when it falls due, again every
`repeat_overdue` while it stays overdue, and escalated up the ladder principal → township officer →
county officer, one level every `climb_after_working_days`, until someone acknowledges ("我来跟进");
the one who did is reminded again after `follow_up`. So while a case is open, someone is always due
to be told about it.

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

from domain.calendar.workdays import add_working_days
from domain.casework.lifecycle import CaseStatus
from domain.casework.steps import (
    APPROVE_CLOSING,
    FIRST_VISIT,
    LEVELS,
    OWNER,
    RETENTION_CHECK,
    RETURN_CHECK,
    CaseFacts,
    Step,
    pending_steps,
)
from domain.policy import Policy

__all__ = ["CaseFacts", "Wanted", "desired_reminders"]

# Roles whose reminders are collected into one daily digest instead of one message per case.
DIGEST_ROLES = frozenset({"principal", "township_officer", "county_officer", "admin"})

VISIT_DUE = FIRST_VISIT  # kept for the rows of earlier releases: the first home visit
OVERDUE = "overdue"  # an escalation: a step missed by the level below
FOLLOW_UP = "follow_up"  # to whoever acknowledged an escalation
REPORT_COMING = "report_coming"  # township and county: the school's written report is coming
MONTHLY_REPORT = "monthly_report"
DIGEST = "digest"
# 送教上门 (domain.home_teaching.reminders): keyed by plan, never by case.
HOME_TEACHING_DUE = "home_teaching_due"  # to the plan's teachers, mid-period
HOME_TEACHING_MISSED = "home_teaching_missed"  # to the principals, after a period ended short
__all__ += ["APPROVE_CLOSING", "RETENTION_CHECK", "RETURN_CHECK"]


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


def level_of(role: str | None) -> int:
    """Where a role stands on the escalation ladder (teachers, cadres and unknown roles: the owner's)."""
    return LEVELS.index(role) if role in LEVELS else 0


def recipients(facts: CaseFacts, actor: str) -> tuple[int, ...]:
    """Who must act: the owner (a case without one falls to the principal, or for a child on no school
    roll to the township officers), or everyone of a role."""
    if actor == OWNER:
        if facts.teacher_id is not None:
            return (facts.teacher_id,)
        return facts.people.get("township_officer" if facts.school_less else "principal", ())
    return facts.people.get(actor, ())


def repeats(step: Step, every: timedelta, now: datetime) -> list[int]:
    """Which "still overdue" repeats are wanted: the latest already due (so it can still be sent) and
    the next one (so a reminder is always pending while the step stays open)."""
    if now < step.due_at:
        return [1]
    passed = int((now - step.due_at) / every)
    return [passed, passed + 1] if passed >= 1 else [1]


def escalation_levels(
    step: Step, facts: CaseFacts, policy: Policy, tz: ZoneInfo
) -> list[tuple[str, datetime]]:
    """The levels above the step's actor and when each is told, stopping at an acknowledgement."""
    if not step.escalates:
        return []
    ack = facts.acks.get(step.identity)
    found = []
    start = level_of(step.actor)
    if facts.school_less:  # no school, no principal: the township officer owns it, the county is above
        start = max(start, level_of("township_officer"))
    for climbed, role in enumerate(LEVELS[start + 1 :], start=1):
        at = add_working_days(step.due_at, climbed * policy.steps.climb_working_days, policy, tz)
        if ack is not None and ack.at <= at:
            break
        found.append((role, at))
    return found


def desired_reminders(facts: CaseFacts, policy: Policy, tz: ZoneInfo, now: datetime) -> list[Wanted]:
    """Every reminder the case should have at `now`, whether already sent or not."""
    wanted: list[Wanted] = []

    def add(kind: str, people: tuple[int, ...], at: datetime, instance: str, **payload: Any) -> None:
        for staff_id in dict.fromkeys(people):
            wanted.append(
                Wanted(
                    kind,
                    facts.case_id,
                    staff_id,
                    at.astimezone(UTC),
                    instance,
                    channel_for(facts.roles.get(staff_id)),
                    payload,
                )
            )

    for step in pending_steps(facts, policy, tz):
        if step.automatic:
            continue
        actors = recipients(facts, step.actor)
        if step.with_cadre and facts.cadre_id is not None:
            actors = (*actors, facts.cadre_id)
        info = {"due": _iso(step.due_at), "step": step.kind, **step.detail}
        add(step.kind, actors, step.remind_at or step.due_at, step.anchor, **info)
        if step.escalates:
            for k in repeats(step, policy.steps.repeat_overdue, now):
                add(
                    step.kind,
                    actors,
                    step.due_at + k * policy.steps.repeat_overdue,
                    f"{step.anchor}#r{k}",
                    repeat=k,
                    **info,
                )
        for role, at in escalation_levels(step, facts, policy, tz):
            add(
                OVERDUE, facts.people.get(role, ()), at, step.identity, level=role, anchor=step.anchor, **info
            )
        ack = facts.acks.get(step.identity)
        if ack is not None and step.escalates:
            add(
                FOLLOW_UP,
                (ack.staff_id,),
                ack.at + policy.steps.follow_up,
                f"{step.identity}#ack",
                anchor=step.anchor,
                acknowledged_at=_iso(ack.at),
                **info,
            )
    wanted += persuasion_rounds(facts, policy, tz, now)
    if facts.status == CaseStatus.ESCALATED and facts.reported_at is None and not facts.school_less:
        for role in policy.reminders.notice_escalate_to:
            add(
                REPORT_COMING,
                facts.people.get(role, ()),
                facts.status_since,
                f"{facts.status_since:%Y%m%dT%H%M%S}",
                level=role,
            )
    return wanted


PERSUASION_ROUND = "persuasion_round"
# Cases a village cadre helps persuade at term start: suspected, being verified or missing, and dropouts.
_ROUND_STATUSES = frozenset(
    {"suspected", "verifying", "missing", "dropped_out", "persuading", "notice_issued", "escalated"}
)


def persuasion_rounds(facts: CaseFacts, policy: Policy, tz: ZoneInfo, now: datetime) -> list[Wanted]:
    """劝学: township and village cadres help each school "每学期开学初…开展1-2次劝学工作"
    (004_4b017d4e2bf19d2a.txt): the cadre is reminded on each configured day of the current term."""
    term = policy.term_on(now.astimezone(tz).date())
    if facts.cadre_id is None or term is None or facts.status not in _ROUND_STATUSES:
        return []
    found = []
    for number, delta in enumerate(policy.steps.persuasion_rounds, start=1):
        at = datetime.combine(term.starts_on + delta, policy.reminders.time_of_day, tz)
        if at >= facts.episode_start:
            found.append(
                Wanted(
                    PERSUASION_ROUND,
                    facts.case_id,
                    facts.cadre_id,
                    at.astimezone(UTC),
                    f"{term.starts_on.isoformat()}#{number}",
                    "direct",
                    {"round": number, "of": len(policy.steps.persuasion_rounds), "term": term.name},
                )
            )
    return found


def retention_check_day(returned_on: date, number: int, policy: Policy) -> date:
    """The day the numbered regular retention check (1-based) falls due."""
    return returned_on + policy.retention_checks[min(number, len(policy.retention_checks)) - 1]


def monthly_report_due(year: int, month: int, policy: Policy, tz: ZoneInfo) -> datetime:
    """一月一报告 (003_ee1c82519c64281c.txt): the report of `month` is due on the configured day of the
    following month, at the digest time (it covers the whole calendar month)."""
    following = date(year + month // 12, month % 12 + 1, policy.monthly_report_day)
    local = datetime.combine(following, policy.reminders.digest_time, tz)
    return local.astimezone(UTC)


def snooze_key(base_key: str, number: int) -> str:
    return f"{base_key}~s{number}"


def backoff(attempts: int, policy: Policy) -> timedelta:
    """Pause before the next try after `attempts` failed ones: retry_backoff doubled each time, ≤ 1 h."""
    return min(policy.reminders.retry_backoff * (2 ** max(0, attempts - 1)), timedelta(hours=1))
