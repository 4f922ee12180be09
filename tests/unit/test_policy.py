"""The policy file: durations, defaults drawn from the seeds, and clear errors."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.policy import DEFAULT_POLICY, PolicyError, load_policy, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["3", "d3", "3 days", "-1d", "1.5h", ""])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(PolicyError):
        parse_duration(bad, "absence.first_visit_due")


def test_defaults_follow_the_seed_rules() -> None:
    policy = load_policy()
    assert policy.verification_window == timedelta(days=15)  # 004_4b017d4e2bf19d2a.txt
    assert policy.notice_return_due == timedelta(days=7)  # 001_66f255ef30f14f7a.txt
    assert policy.retention_checks == (timedelta(days=14), timedelta(days=30))


def test_term_on_picks_the_latest_started_term() -> None:
    policy = load_policy()
    assert policy.term_on(date(2026, 10, 1)).starts_on == date(2026, 9, 1)  # type: ignore[union-attr]
    assert policy.term_on(date(2027, 3, 1)).starts_on == date(2027, 2, 22)  # type: ignore[union-attr]
    assert policy.term_on(date(2020, 1, 1)) is None


def test_a_bad_key_is_named(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        'first_visit_due = "3d"', 'first_visit_due = "soon"'
    )
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="absence.first_visit_due"):
        load_policy(path)


def test_unreadable_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[absence\n", encoding="utf-8")
    with pytest.raises(PolicyError):
        load_policy(path)


def test_the_shipped_delivery_settings_leave_headroom_under_telegrams_limit() -> None:
    delivery = load_policy().reminders
    assert delivery.messages_per_second == 28  # only the leading scheduler sends: the bot's whole budget
    assert delivery.leader_lease == timedelta(seconds=30)


def test_a_leader_lease_of_zero_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace('leader_lease = "30s"', 'leader_lease = "0s"')
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="delivery.leader_lease"):
        load_policy(path)


@pytest.mark.parametrize("day", ["0", "29"])
def test_a_confirm_by_day_outside_the_month_is_refused(tmp_path: Path, day: str) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace("confirm_by_day = 5", f"confirm_by_day = {day}")
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="monthly_report.confirm_by_day"):
        load_policy(path)


def test_a_policy_file_without_confirm_by_day_defaults_to_the_5th(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace("confirm_by_day = 5\n", "")
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    assert load_policy(path).monthly_report_confirm_by == 5
