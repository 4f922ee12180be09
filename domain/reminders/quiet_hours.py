"""Quiet hours: nobody is messaged at night (default 21:00–07:30), on public holidays, nor, if configured,
on weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.policy import Policy

# Enough to cross any run of weekends and holidays a county could configure.
_MAX_SKIPPED_DAYS = 60


def in_quiet_time(local: time, policy: Policy) -> bool:
    """True when a local clock time falls in the nightly quiet period (which may wrap midnight)."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    if start > end:  # 21:00–07:30 wraps midnight
        return local >= start or local < end
    return start <= local < end


def is_skipped_day(day: date, policy: Policy) -> bool:
    """Public holidays, and weekends when skip_weekends is on, get no messages at all; a weekend day
    worked in exchange for a holiday (调休上班, docs/calendar.md) is a normal day."""
    if day in policy.holidays:
        return True
    return policy.skip_weekends and day.weekday() >= 5 and day not in policy.make_up_workdays


def is_quiet(moment: datetime, policy: Policy, tz: ZoneInfo) -> bool:
    """True when no reminder may be sent at this moment."""
    local = moment.astimezone(tz)
    return is_skipped_day(local.date(), policy) or in_quiet_time(local.time(), policy)


def next_allowed(moment: datetime, policy: Policy, tz: ZoneInfo) -> datetime:
    """The first moment at or after `moment` when a message may be sent (UTC).

    Inside the nightly quiet period that is its end (07:30 the same or the next morning); on a skipped
    day it is the end of the quiet period (or midnight, without quiet hours) of the next day that is not
    skipped. Times are computed in `tz`, so daylight-saving zones keep the wall-clock time."""
    local = moment.astimezone(tz)
    wake = policy.quiet_end if policy.quiet_start != policy.quiet_end else time(0, 0)
    if in_quiet_time(local.time(), policy):
        day = local.date()
        if policy.quiet_start > policy.quiet_end and local.time() >= policy.quiet_start:
            day += timedelta(days=1)  # evening: wait for tomorrow morning
        local = datetime.combine(day, policy.quiet_end, tz)
    for _ in range(_MAX_SKIPPED_DAYS):
        if not is_skipped_day(local.date(), policy):
            return local.astimezone(UTC)
        local = datetime.combine(local.date() + timedelta(days=1), wake, tz)
    return local.astimezone(UTC)
