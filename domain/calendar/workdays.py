"""Working days and school days, from the school calendar (domain.calendar.school, docs/calendar.md).

Which count applies where:
- working days (officers' escalations climbing a level): weekdays that are not public holidays, plus the
  weekend days worked in exchange (调休上班);
- school days (a pupil's absence becoming suspected, the term-start roll call): working days inside a
  term and outside the vacations;
- calendar days: every other duration of the policy file (the 15-day verification rule, visits,
  notices), as the seeds state them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.policy import Policy

_MAX_DAYS = 400  # enough to cross any run of holidays and vacations a county could configure


def is_working_day(day: date, policy: Policy) -> bool:
    """A weekday that is not a holiday, or a make-up working day (a Saturday or Sunday worked)."""
    if day in policy.make_up_workdays:
        return True
    return day.weekday() < 5 and day not in policy.holidays


def in_term(day: date, policy: Policy) -> bool:
    """Inside a term and not in a vacation. Days the calendar does not cover (no terms at all, before the
    first term, after the last one has ended) count as term time, so that a county that has not entered
    its terms still has absences promoted: a missed child is worse than an early reminder."""
    if any(day in vacation for vacation in policy.vacations):
        return False
    if not policy.terms or policy.term_on(day) is not None:
        return True
    first = min(t.starts_on for t in policy.terms)
    last = max(policy.terms, key=lambda t: t.starts_on)
    return day < first or (last.ends_on is not None and day > last.ends_on)


def is_school_day(day: date, policy: Policy) -> bool:
    """A working day in term: pupils are expected at school."""
    return is_working_day(day, policy) and in_term(day, policy)


def add_working_days(moment: datetime, days: int, policy: Policy, tz: ZoneInfo) -> datetime:
    """The same local time `days` working days later. A moment on a day off counts from the start of
    the next working day, so 2 working days after Saturday noon end when Wednesday begins."""
    local = moment.astimezone(tz)
    day, at = local.date(), local.timetz().replace(tzinfo=None)
    for _ in range(_MAX_DAYS):
        if is_working_day(day, policy):
            break
        day, at = day + timedelta(days=1), time(0, 0)
    counted = 0
    for _ in range(_MAX_DAYS):
        if counted >= days:
            break
        day += timedelta(days=1)
        if is_working_day(day, policy):
            counted += 1
    return datetime.combine(day, at, tz)


def after_school_days(first: date, days: int, policy: Policy, tz: ZoneInfo) -> datetime:
    """The start of the day after the `days`-th school day counted from `first` (inclusive): when an
    absence that began on `first` has lasted that many school days."""
    day, counted = first, 0
    for _ in range(_MAX_DAYS):
        if is_school_day(day, policy):
            counted += 1
            if counted >= days:
                break
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(0, 0), tz)
