"""Each deadline rule: who is reminded, when, and through which channel (pure, no database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.casework.steps import (
    APPROVE_CLOSING,
    FIRST_VISIT,
    NEXT_VISIT,
    PROMISE_CHECK,
    REPORT,
    RETENTION_CHECK,
    RETURN_CHECK,
    VERIFY,
    Ack,
    CaseFacts,
    VisitFact,
    stamp,
)
from domain.policy import DEFAULT_POLICY, Policy, PolicyError, load_policy
from domain.reminders.rules import (
    FOLLOW_UP,
    OVERDUE,
    REPORT_COMING,
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
        status_since=REPORTED,
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
    return {(w.kind, w.recipient_id): w for w in wanted if "#r" not in w.anchor}


def wanted_at(f: CaseFacts, policy: Policy, now: datetime = REPORTED) -> dict[tuple[str, int], Wanted]:
    return by(desired_reminders(f, policy, TZ, now))


def test_absence_reported_means_teacher_then_principal_township_county(policy: Policy) -> None:
    wanted = wanted_at(facts(), policy)
    assert set(wanted) == {
        (FIRST_VISIT, TEACHER),
        (OVERDUE, PRINCIPAL),
        (OVERDUE, TOWNSHIP),
        (OVERDUE, COUNTY),
    }
    due = REPORTED + timedelta(days=3)  # Friday 09:00
    assert wanted[FIRST_VISIT, TEACHER].due_at == due
    assert wanted[FIRST_VISIT, TEACHER].channel == "direct"
    # Unacknowledged, it climbs one level every 2 working days: Tuesday, Thursday, next Monday.
    assert wanted[OVERDUE, PRINCIPAL].due_at == due + timedelta(days=4)
    assert wanted[OVERDUE, TOWNSHIP].due_at == due + timedelta(days=6)
    assert wanted[OVERDUE, COUNTY].due_at == due + timedelta(days=10)
    assert {w.channel for (k, _), w in wanted.items() if k == OVERDUE} == {"digest"}


def test_an_acknowledgement_stops_the_climb_and_follows_up(policy: Policy) -> None:
    due = REPORTED + timedelta(days=3)
    ack = Ack(PRINCIPAL, due + timedelta(days=5))  # the principal took it on Wednesday
    wanted = wanted_at(facts(acks={f"first_visit@{stamp(REPORTED)}": ack}), policy)
    assert (OVERDUE, TOWNSHIP) not in wanted and (OVERDUE, COUNTY) not in wanted
    assert (OVERDUE, PRINCIPAL) in wanted  # already told before the acknowledgement
    assert wanted[FOLLOW_UP, PRINCIPAL].due_at == ack.at + timedelta(days=3)


def test_an_overdue_step_always_has_its_next_reminder_pending(policy: Policy) -> None:
    """However late it is, the one who must act is reminded again: the case never goes silent."""
    due = REPORTED + timedelta(days=3)
    for days in (0, 8, 30, 200):
        now = due + timedelta(days=days, hours=1)
        wanted = desired_reminders(facts(), policy, TZ, now)
        assert any(w.recipient_id == TEACHER and w.due_at > now for w in wanted), days


def test_a_visit_that_reached_nobody_wants_another_visit(policy: Policy) -> None:
    visited = VisitFact(
        at=REPORTED + timedelta(days=1), recorded_at=REPORTED + timedelta(days=1), outcome="unreachable"
    )
    wanted = wanted_at(facts(visits=(visited,)), policy)
    assert wanted[NEXT_VISIT, TEACHER].due_at == visited.at + timedelta(days=3)
    assert (FIRST_VISIT, TEACHER) not in wanted


def test_a_case_without_teacher_falls_to_the_principal(policy: Policy) -> None:
    wanted = wanted_at(facts(teacher_id=None), policy)
    assert wanted[FIRST_VISIT, PRINCIPAL].channel == "digest"


def test_keys_do_not_depend_on_durations(policy: Policy) -> None:
    """A changed policy moves a reminder; it never makes a second one for the same deadline."""
    slower = dataclasses.replace(policy, first_visit_due=timedelta(days=5))
    before = {w.key: w.due_at for w in desired_reminders(facts(), policy, TZ, REPORTED)}
    after = {w.key: w.due_at for w in desired_reminders(facts(), slower, TZ, REPORTED)}
    assert set(before) == set(after)
    assert after[f"first_visit:7:{stamp(REPORTED)}:{TEACHER}"] - before[
        f"first_visit:7:{stamp(REPORTED)}:{TEACHER}"
    ] == timedelta(days=2)


def test_fifteen_day_rule_asks_the_principal_for_a_verification(policy: Policy) -> None:
    deadline = datetime(2026, 9, 1, tzinfo=TZ) + timedelta(days=15)
    opened = datetime(2026, 9, 3, 2, 0, tzinfo=UTC)
    wanted = wanted_at(
        facts(status="suspected", episode_start=opened, verification_due_at=deadline), policy, opened
    )
    assert wanted[VERIFY, PRINCIPAL].due_at == deadline
    assert wanted[OVERDUE, TOWNSHIP].due_at == datetime(2026, 9, 18, tzinfo=TZ)  # two working days later


def test_fifteen_day_rule_counts_from_opening_for_a_case_opened_after_the_window(policy: Policy) -> None:
    wanted = wanted_at(
        facts(status="suspected", verification_due_at=datetime(2026, 9, 16, tzinfo=TZ)), policy
    )
    assert wanted[VERIFY, PRINCIPAL].due_at == REPORTED + timedelta(days=15)


def test_notice_served_means_return_check_and_nothing_for_officers_yet(policy: Policy) -> None:
    served = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)
    visited = VisitFact(at=served, recorded_at=served, outcome="refused")
    wanted = wanted_at(facts(status="notice_issued", visits=(visited,), notice_at=served), policy, served)
    assert set(wanted) == {(RETURN_CHECK, TEACHER)}
    assert wanted[RETURN_CHECK, TEACHER].due_at == served + timedelta(days=7)


def test_an_escalated_case_asks_the_school_to_report_and_tells_officers_a_report_is_coming(
    policy: Policy,
) -> None:
    since = datetime(2026, 10, 27, 2, 0, tzinfo=UTC)
    wanted = wanted_at(facts(status="escalated", status_since=since), policy, since)
    assert wanted[REPORT, PRINCIPAL].due_at == since  # asked at once ...
    assert (
        wanted[REPORT, PRINCIPAL].payload["due"] == (since + timedelta(days=3)).isoformat()
    )  # ... due in 3 days
    assert wanted[REPORT_COMING, TOWNSHIP].due_at == since
    assert wanted[REPORT_COMING, COUNTY].due_at == since
    assert (REPORT, TOWNSHIP) not in wanted


def test_retention_checks_one_at_a_time_until_recorded(policy: Policy) -> None:
    back = date(2026, 11, 2)
    wanted = wanted_at(facts(status="retention", returned_on=back), policy)
    assert wanted[RETENTION_CHECK, TEACHER].due_at == datetime(2026, 11, 16, 9, 0, tzinfo=TZ)
    assert wanted[RETENTION_CHECK, TEACHER].payload["check"] == 1
    later = wanted_at(facts(status="retention", returned_on=back, retention_checks_done=1), policy)
    assert later[RETENTION_CHECK, TEACHER].payload["check"] == 2
    assert later[RETENTION_CHECK, TEACHER].due_at == datetime(2026, 12, 2, 9, 0, tzinfo=TZ)


def test_a_proposed_closing_waits_for_the_principal(policy: Policy) -> None:
    proposed = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    wanted = wanted_at(
        facts(
            status="retention",
            returned_on=date(2026, 11, 2),
            retention_checks_done=2,
            closing_proposed_at=proposed,
        ),
        policy,
        proposed,
    )
    assert wanted[APPROVE_CLOSING, PRINCIPAL].due_at == proposed  # told at once, in the next digest
    assert wanted[APPROVE_CLOSING, PRINCIPAL].payload["due"] == (proposed + timedelta(days=2)).isoformat()
    assert (RETENTION_CHECK, TEACHER) not in wanted


def test_closed_cases_want_nothing(policy: Policy) -> None:
    assert desired_reminders(facts(status="closed"), policy, TZ, REPORTED) == []


def test_monthly_report_of_a_month_is_due_early_the_next_month(policy: Policy) -> None:
    assert monthly_report_due(2026, 10, policy, TZ) == datetime(2026, 11, 1, 8, 0, tzinfo=TZ)
    assert monthly_report_due(2026, 12, policy, TZ) == datetime(2027, 1, 1, 8, 0, tzinfo=TZ)


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
        'escalate_to = ["township_officer", "county_officer"]', 'escalate_to = ["mayor"]'
    )
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="notice.escalate_to"):
        load_policy(path)


def test_the_village_cadre_confirms_returns_and_hears_of_visits_they_joined(policy: Policy) -> None:
    cadre = 9
    roles = {**facts().roles, cadre: "village_cadre"}
    joined = VisitFact(at=REPORTED, recorded_at=REPORTED, outcome="unreachable", visitors=(TEACHER, cadre))
    wanted = wanted_at(facts(cadre_id=cadre, roles=roles, visits=(joined,)), policy)
    assert wanted[NEXT_VISIT, cadre].channel == "direct"
    alone = VisitFact(at=REPORTED, recorded_at=REPORTED, outcome="unreachable", visitors=(TEACHER,))
    assert (NEXT_VISIT, cadre) not in wanted_at(facts(cadre_id=cadre, roles=roles, visits=(alone,)), policy)
    promised = VisitFact(
        at=REPORTED, recorded_at=REPORTED, outcome="agreed_to_return", promised_return_on=date(2026, 10, 16)
    )
    wanted = wanted_at(facts(status="verifying", cadre_id=cadre, roles=roles, visits=(promised,)), policy)
    assert wanted[PROMISE_CHECK, cadre].due_at == wanted[PROMISE_CHECK, TEACHER].due_at


def test_term_start_persuasion_rounds_remind_the_cadre_of_open_dropouts(policy: Policy) -> None:
    cadre = 9
    since = datetime(2026, 8, 20, 2, 0, tzinfo=UTC)
    f = facts(
        status="persuading",
        episode_start=since,
        status_since=since,
        cadre_id=cadre,
        roles={**facts().roles, cadre: "village_cadre"},
    )
    rounds = [
        w
        for w in desired_reminders(f, policy, TZ, datetime(2026, 9, 2, tzinfo=UTC))
        if w.kind == "persuasion_round"
    ]
    # 004_4b017d4e2bf19d2a.txt: 1-2 rounds at the start of each term (policy: 3 and 10 days after 09-01).
    assert [(w.recipient_id, w.due_at) for w in rounds] == [
        (cadre, datetime(2026, 9, 4, 9, 0, tzinfo=TZ)),
        (cadre, datetime(2026, 9, 11, 9, 0, tzinfo=TZ)),
    ]
    assert [
        w
        for w in desired_reminders(
            dataclasses.replace(f, status="retention", returned_on=date(2026, 9, 1)),
            policy,
            TZ,
            datetime(2026, 9, 2, tzinfo=UTC),
        )
        if w.kind == "persuasion_round"
    ] == []
