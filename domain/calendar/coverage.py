"""Whether the school calendar knows the public holidays of this year and, from 1 November, of the next.

Without a year's arrangement every weekday of it is a working day and no holiday is quiet, so the
dashboard (admins, county officers) and the scheduler's log say so until the county adds the year to its
CALENDAR_FILE (docs/calendar.md)."""

from __future__ import annotations

import logging
from datetime import date

from domain.policy import Policy

# The State Council usually publishes the next year's arrangement in November or December.
NEXT_YEAR_FROM = (11, 1)


def missing_holiday_years(policy: Policy, today: date) -> list[int]:
    """The years the calendar should already hold (this one; from 1 November the next) but does not."""
    wanted = [today.year]
    if (today.month, today.day) >= NEXT_YEAR_FROM:
        wanted.append(today.year + 1)
    known = {y.year for y in policy.calendar_years}
    return [year for year in wanted if year not in known]


def warn_missing_holidays(policy: Policy, today: date, log: logging.Logger) -> list[int]:
    """Logs one warning per missing year; returns them."""
    missing = missing_holiday_years(policy, today)
    for year in missing:
        log.warning(
            "the school calendar has no public holidays for %s: its weekdays count as working and school"
            " days and no holiday is quiet; add the State Council's %s arrangement to CALENDAR_FILE"
            " (docs/calendar.md)",
            year,
            year,
        )
    return missing
