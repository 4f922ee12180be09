"""School and working days: weekdays that are not configured holidays (quiet_hours.holidays)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.policy import Policy

_MAX_DAYS = 400  # enough to cross any run of holidays a county could configure


def is_working_day(day: date, policy: Policy) -> bool:
    return day.weekday() < 5 and day not in policy.holidays


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
        if is_working_day(day, policy):
            counted += 1
            if counted >= days:
                break
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(0, 0), tz)
