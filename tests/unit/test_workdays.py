"""Working days and school days on the shipped 2026 calendar (国务院办公厅关于2026年部分节假日安排的通知)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.calendar.school import DateRange
from domain.calendar.workdays import add_working_days, after_school_days, is_school_day, is_working_day
from domain.policy import Policy, Term

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Fri before 春节
        (date(2026, 2, 14), True),  # Sat, worked in exchange (调休上班)
        (date(2026, 2, 16), False),  # Mon in 春节
        (date(2026, 2, 23), False),  # Mon, the last day of 春节
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Sat, worked
        (date(2026, 1, 4), True),  # Sun, worked (元旦)
        (date(2026, 5, 5), False),  # Tue in 劳动节
        (date(2026, 5, 9), True),  # Sat, worked
        (date(2026, 9, 20), True),  # Sun, worked (国庆节)
        (date(2026, 10, 7), False),  # Wed in 国庆节
        (date(2026, 10, 10), True),  # Sat, worked
        (date(2026, 10, 11), False),  # an ordinary Sunday
        (date(2026, 6, 19), False),  # Fri, 端午节
        (date(2026, 9, 25), False),  # Fri, 中秋节
    ],
)
def test_working_days_follow_the_2026_arrangement(policy: Policy, day: date, working: bool) -> None:
    assert is_working_day(day, policy) is working


def test_two_working_days_from_friday_before_spring_festival_end_on_the_tuesday_after(policy: Policy) -> None:
    # Fri 02-13 noon: Sat 02-14 is worked (1), 02-15 to 02-23 are off, Tue 02-24 is the second.
    start = datetime(2026, 2, 13, 12, 0, tzinfo=TZ)
    assert add_working_days(start, 2, policy, TZ) == datetime(2026, 2, 24, 12, 0, tzinfo=TZ)
    # Without the make-up Saturday it would have been Wednesday.
    no_make_up = dataclasses.replace(policy, make_up_workdays=frozenset())
    assert add_working_days(start, 2, no_make_up, TZ) == datetime(2026, 2, 25, 12, 0, tzinfo=TZ)


def test_an_escalation_due_in_national_day_week_climbs_after_it(policy: Policy) -> None:
    # Due Wed 09-30: Thu 10-01 to Wed 10-07 are off, Thu 10-08 is one, Fri 10-09 two.
    due = datetime(2026, 9, 30, 9, 0, tzinfo=TZ)
    assert add_working_days(due, 2, policy, TZ) == datetime(2026, 10, 9, 9, 0, tzinfo=TZ)
    # From Fri 10-09 two working days are Sat 10-10 (worked) and Mon 10-12.
    assert add_working_days(datetime(2026, 10, 9, 9, 0, tzinfo=TZ), 2, policy, TZ) == datetime(
        2026, 10, 12, 9, 0, tzinfo=TZ
    )


def test_an_absence_counts_school_days_across_national_day(policy: Policy) -> None:
    # Absent from Tue 09-29: 09-29 (1), 09-30 (2), then 10-01 to 10-07 off, Thu 10-08 (3).
    assert after_school_days(date(2026, 9, 29), 3, policy, TZ) == datetime(2026, 10, 9, 0, 0, tzinfo=TZ)
    # From Fri 10-09: Fri (1), Sat 10-10 is a school day too (调休上班), Mon 10-12 (3).
    assert after_school_days(date(2026, 10, 9), 3, policy, TZ) == datetime(2026, 10, 13, 0, 0, tzinfo=TZ)


def test_vacations_and_the_gap_between_terms_are_not_school_days(policy: Policy) -> None:
    autumn = Term("autumn", date(2026, 9, 1), date(2027, 1, 22))  # dates for this test only
    spring = Term("spring", date(2027, 2, 22))
    terms = dataclasses.replace(policy, terms=(autumn, spring))
    assert is_school_day(date(2027, 1, 22), terms)  # the autumn term's last day, a Friday
    assert is_working_day(date(2027, 1, 25), terms) and not is_school_day(date(2027, 1, 25), terms)  # 寒假
    assert is_school_day(date(2027, 2, 22), terms)
    # An absence from the last Thursday of term: Thu, Fri, then the first Monday of the next term.
    assert after_school_days(date(2027, 1, 21), 3, terms, TZ) == datetime(2027, 2, 23, 0, 0, tzinfo=TZ)
    closed = dataclasses.replace(
        policy, vacations=(DateRange("农忙假", date(2026, 10, 12), date(2026, 10, 16)),)
    )
    assert is_working_day(date(2026, 10, 14), closed) and not is_school_day(date(2026, 10, 14), closed)


def test_days_the_calendar_does_not_cover_count_as_school_days(policy: Policy) -> None:
    assert is_school_day(date(2026, 6, 15), policy)  # before the first configured term: no data, no pause
    ended = dataclasses.replace(policy, terms=(Term("t", date(2026, 9, 1), date(2027, 1, 22)),))
    assert is_school_day(date(2027, 3, 1), ended)  # after the last term ended
    assert is_school_day(date(2026, 6, 15), dataclasses.replace(policy, terms=()))
