"""Quiet hours: nobody is messaged at night, nor on weekends and holidays when the county says so."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.policy import Policy, load_policy
from domain.reminders.quiet_hours import in_quiet_time, is_quiet, next_allowed

TZ = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture
def policy() -> Policy:
    return load_policy()


def test_a_reminder_due_at_23_00_is_sent_at_07_30_next_morning(policy: Policy) -> None:
    moved = next_allowed(local(2026, 10, 13, 23), policy, TZ)
    assert moved == local(2026, 10, 14, 7, 30)
    assert moved.tzinfo == UTC  # stored as UTC like every other moment


def test_a_reminder_due_before_dawn_waits_for_the_same_morning(policy: Policy) -> None:
    assert next_allowed(local(2026, 10, 14, 3, 15), policy, TZ) == local(2026, 10, 14, 7, 30)


def test_daytime_reminders_are_not_moved(policy: Policy) -> None:
    assert next_allowed(local(2026, 10, 13, 9), policy, TZ) == local(2026, 10, 13, 9)
    assert next_allowed(local(2026, 10, 13, 20, 59), policy, TZ) == local(2026, 10, 13, 20, 59)


@pytest.mark.parametrize(
    ("hh", "mm", "quiet"),
    [(21, 0, True), (7, 29, True), (7, 30, False), (20, 59, False), (0, 0, True), (12, 0, False)],
)
def test_quiet_period_edges(policy: Policy, hh: int, mm: int, quiet: bool) -> None:
    assert in_quiet_time(time(hh, mm), policy) is quiet


def test_weekends_are_skipped_only_when_enabled(policy: Policy) -> None:
    saturday = local(2026, 10, 17, 10)
    assert next_allowed(saturday, policy, TZ) == saturday
    weekends_off = dataclasses.replace(policy, skip_weekends=True)
    assert next_allowed(saturday, weekends_off, TZ) == local(2026, 10, 19, 7, 30)  # Monday morning
    assert next_allowed(local(2026, 10, 16, 22), weekends_off, TZ) == local(
        2026, 10, 19, 7, 30
    )  # Friday night
    assert is_quiet(saturday, weekends_off, TZ)


def test_holidays_are_skipped(policy: Policy) -> None:
    national_day = dataclasses.replace(policy, holidays=frozenset(date(2026, 10, d) for d in range(1, 8)))
    assert next_allowed(local(2026, 9, 30, 22), national_day, TZ) == local(2026, 10, 8, 7, 30)


def test_a_daytime_quiet_period_does_not_wrap(policy: Policy) -> None:
    siesta = dataclasses.replace(policy, quiet_start=time(12, 0), quiet_end=time(14, 0))
    assert next_allowed(local(2026, 10, 13, 12, 30), siesta, TZ) == local(2026, 10, 13, 14)
    assert next_allowed(local(2026, 10, 13, 23), siesta, TZ) == local(2026, 10, 13, 23)


def test_no_quiet_hours_when_start_equals_end(policy: Policy) -> None:
    always = dataclasses.replace(policy, quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert next_allowed(local(2026, 10, 13, 23), always, TZ) == local(2026, 10, 13, 23)


def test_the_shipped_national_day_holiday_is_silent(policy: Policy) -> None:
    assert is_quiet(local(2026, 10, 5, 10), policy, TZ)
    assert next_allowed(local(2026, 9, 30, 22), policy, TZ) == local(2026, 10, 8, 7, 30)


def test_a_make_up_saturday_is_a_normal_day_even_when_weekends_are_skipped(policy: Policy) -> None:
    weekends_off = dataclasses.replace(policy, skip_weekends=True)
    worked_saturday = local(2026, 10, 10, 10)  # 调休上班 for National Day
    assert not is_quiet(worked_saturday, weekends_off, TZ)
    assert next_allowed(local(2026, 10, 9, 22), weekends_off, TZ) == local(2026, 10, 10, 7, 30)
    assert next_allowed(local(2026, 10, 10, 22), weekends_off, TZ) == local(2026, 10, 12, 7, 30)  # Sunday off
    assert is_quiet(local(2026, 10, 17, 10), weekends_off, TZ)  # an ordinary Saturday
