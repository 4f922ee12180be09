"""Term start (开学): each class teacher is prompted on the term's first school day to do the roll call.

"每学期开学后15天内，对未报到的学生登记造册并逐一核实原因" (004_4b017d4e2bf19d2a.txt): the roll call
(domain.casework.rollcall) is offered on the first `policy.roll_call_days` school days of a term; this module says
which term is open for it and when its prompt is due. Pure: planning is domain.reminders.planning.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar.workdays import is_school_day
from domain.policy import Policy, Term

TERM_START = "term_start"  # reminder kind: the roll-call prompt, one per class teacher per term
_MAX_DAYS = 400  # enough to cross any run of holidays a county could configure


def roll_call_days(policy: Policy, term: Term) -> list[date]:
    """The term's first `roll_call_days` school days (the days rollcall.roll_call_due is true)."""
    days: list[date] = []
    day = term.starts_on
    for _ in range(_MAX_DAYS):
        if len(days) >= policy.roll_call_days:
            break
        if is_school_day(day, policy):
            days.append(day)
        day += timedelta(days=1)
    return days


def open_term(policy: Policy, today: date) -> tuple[Term, list[date]] | None:
    """The current term and its roll-call days, while its last roll-call day has not passed."""
    term = policy.term_on(today)
    if term is None:
        return None
    days = roll_call_days(policy, term)
    return (term, days) if days and today <= days[-1] else None


def roll_call_open(policy: Policy, today: date) -> bool:
    """Whether a roll call may be recorded today: on the term's roll-call days; on any day when no term
    is configured at all (nothing to compare with: the class teacher's judgement stands)."""
    found = open_term(policy, today)
    return not policy.terms or (found is not None and today in found[1])


def next_window(policy: Policy, today: date) -> list[date]:
    """The roll-call days of the next term to start after `today` (empty when none is configured)."""
    upcoming = [t for t in policy.terms if t.starts_on > today]
    return roll_call_days(policy, min(upcoming, key=lambda t: t.starts_on)) if upcoming else []


def verification_days(policy: Policy) -> int:
    """The verification window (开学后15天内) in whole days, for the texts that quote it."""
    return max(1, round(policy.verification_window.total_seconds() / 86400))


def prompt_due(policy: Policy, days: list[date], today: date, tz: ZoneInfo) -> datetime:
    """The first roll-call day from today on, at the reminders' time of day: the first school day for
    everyone planned before the term began; a class teacher added later in the window is told that day."""
    day = next((d for d in days if d >= today), days[-1])
    return datetime.combine(day, policy.reminders.time_of_day, tz).astimezone(UTC)


def prompt_payload(term: Term, days: list[date], policy: Policy) -> dict[str, Any]:
    return {
        "term": term.name,
        "starts_on": term.starts_on.isoformat(),
        "until": days[-1].isoformat(),
        "days": len(days),
        "window": verification_days(policy),
    }


def prompt_still_open(payload: dict[str, Any], policy: Policy, tz: ZoneInfo, now: datetime) -> bool:
    """Checked right before sending: a prompt held up past the roll-call window is not sent any more."""
    found = open_term(policy, now.astimezone(tz).date())
    return found is not None and found[0].starts_on.isoformat() == payload.get("starts_on")
