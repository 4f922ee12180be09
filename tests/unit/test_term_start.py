"""When the term-start roll-call prompt is due, and for which term (pure, no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.casework.rollcall import roll_call_due
from domain.policy import Policy, Term
from domain.reminders.term_start import (
    open_term,
    prompt_due,
    prompt_payload,
    prompt_still_open,
    roll_call_days,
)

TZ = ZoneInfo("Asia/Shanghai")
AUTUMN = Term("2026-2027 autumn", date(2026, 9, 1))  # the shipped policy's, a Tuesday


def test_the_window_is_the_first_school_days_of_the_current_term(policy: Policy) -> None:
    assert roll_call_days(policy, AUTUMN) == [date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3)]
    assert open_term(policy, date(2026, 8, 31)) is None  # no term has started yet
    assert open_term(policy, date(2026, 9, 3)) == (AUTUMN, roll_call_days(policy, AUTUMN))
    assert open_term(policy, date(2026, 9, 4)) is None  # past the window: never planned
    assert open_term(policy, date(2026, 10, 13)) is None


def test_a_term_starting_on_a_saturday_before_a_holiday_is_prompted_on_the_first_school_day(
    policy: Policy,
) -> None:
    term = Term("t", date(2026, 9, 5))
    p = dataclasses.replace(policy, terms=(term,), holidays=frozenset({date(2026, 9, 7)}))
    days = roll_call_days(p, term)
    assert days == [date(2026, 9, 8), date(2026, 9, 9), date(2026, 9, 10)]
    assert prompt_due(p, days, date(2026, 9, 5), TZ) == datetime(2026, 9, 8, 9, 0, tzinfo=TZ)
    assert open_term(p, date(2026, 9, 10)) is not None and open_term(p, date(2026, 9, 11)) is None


def test_the_window_agrees_with_when_the_roll_call_is_offered(policy: Policy) -> None:
    term = Term("t", date(2026, 9, 5))
    p = dataclasses.replace(policy, terms=(term,), holidays=frozenset({date(2026, 9, 7)}))
    for n in range(20):
        day = date(2026, 9, 1) + timedelta(days=n)
        assert roll_call_due(p, day) is (day in roll_call_days(p, term)), day


def test_a_teacher_added_later_in_the_window_is_told_that_day(policy: Policy) -> None:
    days = roll_call_days(policy, AUTUMN)
    assert prompt_due(policy, days, date(2026, 8, 31), TZ) == datetime(2026, 9, 1, 9, 0, tzinfo=TZ)
    assert prompt_due(policy, days, date(2026, 9, 3), TZ) == datetime(2026, 9, 3, 9, 0, tzinfo=TZ)


def test_no_roll_call_days_configured_means_no_prompt(policy: Policy) -> None:
    assert open_term(dataclasses.replace(policy, roll_call_days=0), date(2026, 9, 1)) is None


def test_a_prompt_held_up_past_the_window_is_not_sent(policy: Policy) -> None:
    payload = prompt_payload(AUTUMN, roll_call_days(policy, AUTUMN), policy)
    assert prompt_still_open(payload, policy, TZ, datetime(2026, 9, 3, 15, 0, tzinfo=TZ))
    assert not prompt_still_open(payload, policy, TZ, datetime(2026, 9, 4, 7, 30, tzinfo=TZ))
    assert not prompt_still_open(payload, policy, TZ, datetime(2027, 2, 22, 9, 0, tzinfo=TZ))  # next term
    assert prompt_due(policy, [date(2026, 9, 1)], date(2026, 9, 1), TZ).tzinfo == UTC
