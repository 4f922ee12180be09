"""Each deadline rule: who is reminded, when, and through which channel (pure, no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.policy import DEFAULT_POLICY, Policy, PolicyError, load_policy
from domain.reminder_rules import (
    NOTICE_EXPIRED,
    RETENTION_CHECK,
    RETURN_CHECK,
    VERIFICATION_OVERDUE,
    VISIT_DUE,
    VISIT_OVERDUE,
    CaseFacts,
    Wanted,
    backoff,
    desired_reminders,
    monthly_report_due,
)

TZ = ZoneInfo("Asia/Shanghai")
REPORTED = datetime(2026, 10, 13, 1, 0, tzinfo=UTC)  # Tuesday 09:00 Beijing
TEACHER, PRINCIPAL, TOWNSHIP, COUNTY = 1, 2, 3, 4


@pytest.fixture
def policy() -> Policy:
    return load_policy()


def facts(**changes: object) -> CaseFacts:
    base = CaseFacts(
        case_id=7,
        status="absent",
        category_scheme=None,
        episode_start=REPORTED,
        visit_logged=False,
        verification_due_at=None,
        term_start=date(2026, 9, 1),
        notice_at=None,
        return_due_at=None,
        returned_on=None,
        retention_checks_done=0,
        teacher_id=TEACHER,
        people={"principal": (PRINCIPAL,), "township_officer": (TOWNSHIP,), "county_officer": (COUNTY,)},
        roles={
            TEACHER: "class_teacher",
            PRINCIPAL: "principal",
            TOWNSHIP: "township_officer",
            COUNTY: "county_officer",
        },
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def by(wanted: list[Wanted]) -> dict[tuple[str, int], Wanted]:
    return {(w.kind, w.recipient_id): w for w in wanted}


def test_absence_reported_means_teacher_then_principal_then_township(policy: Policy) -> None:
    wanted = by(desired_reminders(facts(), policy, TZ))
    assert set(wanted) == {(VISIT_DUE, TEACHER), (VISIT_OVERDUE, PRINCIPAL), (VISIT_OVERDUE, TOWNSHIP)}
    assert wanted[VISIT_DUE, TEACHER].due_at == REPORTED + timedelta(days=3)
    assert wanted[VISIT_DUE, TEACHER].channel == "direct"
    assert wanted[VISIT_OVERDUE, PRINCIPAL].due_at == REPORTED + timedelta(days=3 + 2)
    assert wanted[VISIT_OVERDUE, TOWNSHIP].due_at == REPORTED + timedelta(days=3 + 5)
    assert {w.channel for (k, _), w in wanted.items() if k == VISIT_OVERDUE} == {"digest"}


def test_a_logged_visit_wants_no_visit_reminders(policy: Policy) -> None:
    assert desired_reminders(facts(visit_logged=True), policy, TZ) == []


def test_a_case_without_teacher_falls_to_the_principal(policy: Policy) -> None:
    wanted = by(desired_reminders(facts(teacher_id=None), policy, TZ))
    assert wanted[VISIT_DUE, PRINCIPAL].channel == "digest"


def test_keys_do_not_depend_on_durations(policy: Policy) -> None:
    """A changed policy moves a reminder; it never makes a second one for the same deadline."""
    slower = dataclasses.replace(policy, first_visit_due=timedelta(days=5))
    before = {w.key: w.due_at for w in desired_reminders(facts(), policy, TZ)}
    after = {w.key: w.due_at for w in desired_reminders(facts(), slower, TZ)}
    assert set(before) == set(after)
    assert all(after[k] - before[k] == timedelta(days=2) for k in before)


def test_fifteen_day_rule_tells_principal_and_township(policy: Policy) -> None:
    deadline = datetime(2026, 9, 1, tzinfo=TZ) + timedelta(days=15)
    opened = datetime(2026, 9, 3, 2, 0, tzinfo=UTC)
    wanted = by(
        desired_reminders(
            facts(status="suspected", episode_start=opened, verification_due_at=deadline), policy, TZ
        )
    )
    assert wanted[VERIFICATION_OVERDUE, PRINCIPAL].due_at == deadline
    assert wanted[VERIFICATION_OVERDUE, TOWNSHIP].due_at == deadline
    assert (VERIFICATION_OVERDUE, TEACHER) not in wanted


def test_fifteen_day_rule_counts_from_opening_for_a_case_opened_after_the_window(policy: Policy) -> None:
    wanted = by(
        desired_reminders(
            facts(status="suspected", verification_due_at=datetime(2026, 9, 16, tzinfo=TZ)), policy, TZ
        )
    )
    assert wanted[VERIFICATION_OVERDUE, PRINCIPAL].due_at == REPORTED + timedelta(days=15)


def test_a_verification_outcome_ends_the_fifteen_day_rule(policy: Policy) -> None:
    done = facts(
        status="verifying",
        visit_logged=True,
        verification_due_at=REPORTED,
        category_scheme="verification_2019",
    )
    assert desired_reminders(done, policy, TZ) == []


def test_notice_served_means_return_check_then_township_and_county(policy: Policy) -> None:
    served = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
    wanted = by(
        desired_reminders(facts(status="notice_issued", visit_logged=True, notice_at=served), policy, TZ)
    )
    assert set(wanted) == {(RETURN_CHECK, TEACHER), (NOTICE_EXPIRED, TOWNSHIP), (NOTICE_EXPIRED, COUNTY)}
    assert all(w.due_at == served + timedelta(days=7) for w in wanted.values())


def test_retention_checks_at_14_and_30_days_until_recorded(policy: Policy) -> None:
    back = date(2026, 11, 2)
    wanted = desired_reminders(facts(status="retention", visit_logged=True, returned_on=back), policy, TZ)
    assert [(w.kind, w.recipient_id, w.due_at) for w in wanted] == [
        (RETENTION_CHECK, TEACHER, datetime(2026, 11, 16, 9, 0, tzinfo=TZ)),
        (RETENTION_CHECK, TEACHER, datetime(2026, 12, 2, 9, 0, tzinfo=TZ)),
    ]
    later = desired_reminders(
        facts(status="retention", returned_on=back, retention_checks_done=1), policy, TZ
    )
    assert [w.payload["check"] for w in later] == [2]


def test_closed_cases_want_nothing(policy: Policy) -> None:
    assert desired_reminders(facts(status="closed"), policy, TZ) == []


def test_monthly_report_is_due_in_time_for_that_days_digest(policy: Policy) -> None:
    assert monthly_report_due(2026, 10, policy, TZ) == datetime(2026, 10, 28, 8, 0, tzinfo=TZ)


def test_backoff_doubles_and_is_capped(policy: Policy) -> None:
    assert [backoff(n, policy) for n in (1, 2, 3)] == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
    ]
    assert backoff(20, policy) == timedelta(hours=1)


def test_reminder_settings_are_read_from_the_policy_file(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace('snooze = "1d"', 'snooze = "12h"')
    text = text.replace(
        'escalate_to = ["township_officer", "county_officer"]', 'escalate_to = ["county_officer"]'
    )
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)
    assert policy.reminders.snooze_by == timedelta(hours=12)
    assert policy.reminders.notice_escalate_to == ("county_officer",)


def test_an_older_policy_file_without_reminder_keys_still_loads(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").split("# ---- Reminders and escalation")[0]
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    assert load_policy(path).reminders.max_snoozes == 2


def test_an_unknown_role_to_notify_is_named(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        'notify = ["principal", "township_officer"]', 'notify = ["mayor"]'
    )
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="term_start.notify"):
        load_policy(path)
