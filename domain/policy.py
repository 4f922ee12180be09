"""Deadline rules read from one TOML policy file; pure functions of (event time, policy)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from domain.calendar.school import DateRange, HolidayYear, Term, load_calendar, policy_terms
from domain.privacy.retention_policy import DataRetention, data_retention

DEFAULT_POLICY = Path(__file__).with_name("policy_default.toml")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class PolicyError(ValueError):
    """The policy file is malformed; the message names the key."""


def parse_duration(text: str, key: str = "duration") -> timedelta:
    """'3d' → 3 days; accepts s, m, h, d, w."""
    m = _DURATION.match(str(text))
    if not m:
        raise PolicyError(f"{key}: {text!r} is not a duration like 30s, 12h, 3d or 2w")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


@dataclass(frozen=True)
class ReminderPolicy:
    """Who is told about which deadline, when, and how the outbox delivers it (defaults = shipped file)."""

    time_of_day: time = time(9, 0)  # reminders tied to a day (retention checks) go out at this local time
    digest_time: time = time(8, 0)  # coordinators' one daily digest
    snooze_by: timedelta = timedelta(days=1)
    max_snoozes: int = 2
    notice_escalate_to: tuple[str, ...] = ("township_officer", "county_officer")
    notice_escalate_after: timedelta = timedelta(0)
    max_attempts: int = 5
    retry_backoff: timedelta = timedelta(seconds=30)
    claim_lease: timedelta = timedelta(minutes=2)
    leader_lease: timedelta = timedelta(seconds=30)  # one scheduler leads; a standby takes over after this
    messages_per_second: float = 28.0
    per_chat_interval: timedelta = timedelta(seconds=1)


@dataclass(frozen=True)
class StepPolicy:
    """When each next step of a case falls due, how escalations climb, and the school calendar
    (domain.casework.steps). Every value is a county's choice; defaults are the shipped file's."""

    promote_after_school_days: int = 3  # an absence unexplained this many school days becomes suspected
    visit_retry: timedelta = timedelta(days=3)  # next visit after one that reached nobody
    persuasion_every: timedelta = timedelta(days=7)  # persuasion visits of a confirmed dropout
    promise_grace: timedelta = timedelta(days=1)  # a promised return is checked this long after the day
    notice_min_prior_visits: int = 1  # persuasion attempts before the written notice may be served
    climb_working_days: int = 2  # an unacknowledged escalation climbs one level after this many
    follow_up: timedelta = timedelta(days=3)  # the acknowledger is reminded again after this
    repeat_overdue: timedelta = timedelta(days=7)  # whoever must act is reminded again while overdue
    report_within: timedelta = timedelta(days=3)  # the school's written report (上报) after escalation
    order_within: timedelta = timedelta(days=5)  # the order to comply (责令限期改正) after the report
    legal_follow_up: timedelta = timedelta(days=30)  # after a referral to the justice route
    classified_recheck: timedelta = timedelta(days=30)  # codes I and L keep the case open: re-checked
    missing_recheck: timedelta = timedelta(days=30)  # missing children (G), under police follow-up
    deferral_remind_before: timedelta = timedelta(days=14)  # before a deferral (缓学, E) ends
    retention_answer_within: timedelta = timedelta(days=3)  # an unanswered retention check escalates
    approve_within: timedelta = timedelta(days=2)  # a proposed closing (销号) awaits approval this long
    rework_check: timedelta = timedelta(days=14)  # the extra check after a closing sent back
    school_year_starts: tuple[int, int] = (9, 1)  # month, day: a closed case reopens within the year
    persuasion_rounds: tuple[timedelta, ...] = ()  # term-start persuasion rounds (劝学) of village cadres

    def school_year_start(self, day: date) -> date:
        """The first day of the school year containing `day`."""
        month, dom = self.school_year_starts
        start = date(day.year, month, dom)
        return start if start <= day else date(day.year - 1, month, dom)


@dataclass(frozen=True)
class Policy:
    suspect_after: timedelta
    first_visit_due: timedelta
    verification_window: timedelta
    roll_call_days: int
    terms: tuple[Term, ...]
    notice_return_due: timedelta
    retention_checks: tuple[timedelta, ...]
    monthly_report_day: int
    quiet_start: time
    quiet_end: time
    skip_weekends: bool
    # The school calendar (domain.calendar.school; days are judged by domain.calendar.workdays): days off, weekend
    # days worked in exchange (调休), vacations, and each year's published arrangement (for coverage).
    holidays: frozenset[date] = field(default_factory=frozenset)
    make_up_workdays: frozenset[date] = field(default_factory=frozenset)
    vacations: tuple[DateRange, ...] = ()
    calendar_years: tuple[HolidayYear, ...] = ()
    reminders: ReminderPolicy = field(default_factory=lambda: ReminderPolicy())
    steps: StepPolicy = field(default_factory=lambda: StepPolicy())
    data_retention: DataRetention = field(default_factory=lambda: DataRetention())
    # The principal confirms last month's report by this day; later, the county sees it as missing.
    monthly_report_confirm_by: int = 5

    def term_on(self, day: date) -> Term | None:
        """The term that has started most recently on or before `day`, unless it has ended by then."""
        started = [t for t in self.terms if t.starts_on <= day]
        term = max(started, key=lambda t: t.starts_on) if started else None
        return None if term is None or (term.ends_on is not None and term.ends_on < day) else term

    def visit_due(self, reported_at: datetime) -> datetime:
        return reported_at + self.first_visit_due

    def return_due(self, notice_served_at: datetime) -> datetime:
        return notice_served_at + self.notice_return_due

    def verification_due(self, opened_at: datetime, tz: ZoneInfo) -> datetime:
        """Term start + the verification window (004_4b017d4e2bf19d2a.txt: 开学后15天内); a suspected
        case opened later, or with no term configured, gets the same window from its opening."""
        term = self.term_on(opened_at.astimezone(tz).date())
        own = opened_at + self.verification_window
        if term is None:
            return own
        term_deadline = datetime.combine(term.starts_on, time.min, tz) + self.verification_window
        return term_deadline if term_deadline >= opened_at else own


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise PolicyError(f"{dotted}: missing")
        node = node[part]
    return node


def _clock_time(text: str, key: str) -> time:
    try:
        return time.fromisoformat(str(text))
    except ValueError:
        raise PolicyError(f"{key}: {text!r} is not a time like 21:00") from None


def _optional(data: dict[str, Any], dotted: str, default: Any) -> Any:
    """Keys added after the first release may be missing from a county's older copy of the file."""
    try:
        return _get(data, dotted)
    except PolicyError:
        return default


# Roles a policy may name to be told of a step; not city or province officers (escalations stop at the county).
NOTIFIABLE_ROLES = frozenset({"principal", "township_officer", "county_officer"})


def _roles(data: dict[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    roles = tuple(str(r) for r in _optional(data, key, list(default)))
    if unknown := set(roles) - NOTIFIABLE_ROLES:
        raise PolicyError(f"{key}: unknown role(s) {sorted(unknown)}; use {sorted(NOTIFIABLE_ROLES)}")
    return roles


def _reminder_policy(data: dict[str, Any]) -> ReminderPolicy:
    base = ReminderPolicy()

    def dur(key: str, default: timedelta) -> timedelta:
        value = _optional(data, key, None)
        return default if value is None else parse_duration(value, key)

    def clock(key: str, default: time) -> time:
        value = _optional(data, key, None)
        return default if value is None else _clock_time(value, key)

    def positive(key: str, default: float) -> float:
        value = float(_optional(data, key, default))
        if value <= 0:
            raise PolicyError(f"{key}: must be greater than 0")
        return value

    leader_lease = dur("delivery.leader_lease", base.leader_lease)
    if leader_lease <= timedelta(0):
        raise PolicyError("delivery.leader_lease: must be greater than 0")
    return ReminderPolicy(
        time_of_day=clock("reminders.time_of_day", base.time_of_day),
        digest_time=clock("reminders.digest_time", base.digest_time),
        snooze_by=dur("reminders.snooze", base.snooze_by),
        max_snoozes=int(_optional(data, "reminders.max_snoozes", base.max_snoozes)),
        notice_escalate_to=_roles(data, "notice.escalate_to", base.notice_escalate_to),
        notice_escalate_after=dur("notice.escalate_after", base.notice_escalate_after),
        max_attempts=int(positive("delivery.max_attempts", base.max_attempts)),
        retry_backoff=dur("delivery.retry_backoff", base.retry_backoff),
        claim_lease=dur("delivery.claim_lease", base.claim_lease),
        leader_lease=leader_lease,
        messages_per_second=positive("delivery.messages_per_second", base.messages_per_second),
        per_chat_interval=dur("delivery.per_chat_interval", base.per_chat_interval),
    )


def _step_policy(data: dict[str, Any]) -> StepPolicy:
    base = StepPolicy()

    def dur(key: str, default: timedelta) -> timedelta:
        value = _optional(data, key, None)
        found = default if value is None else parse_duration(value, key)
        if found <= timedelta(0):
            raise PolicyError(f"{key}: must be greater than 0")
        return found

    def count(key: str, default: int, minimum: int = 0) -> int:
        value = _optional(data, key, default)
        if not isinstance(value, int) or value < minimum:
            raise PolicyError(f"{key}: must be a whole number of at least {minimum}")
        return value

    starts = str(_optional(data, "calendar.school_year_starts", "09-01"))
    try:
        month, dom = (int(x) for x in starts.split("-"))
        date(2001, month, dom)
    except ValueError:
        raise PolicyError(f"calendar.school_year_starts: {starts!r} is not a month-day like 09-01") from None
    return StepPolicy(
        promote_after_school_days=count(
            "absence.promote_after_school_days", base.promote_after_school_days, 1
        ),
        visit_retry=dur("absence.visit_retry", base.visit_retry),
        persuasion_every=dur("persuasion.visit_every", base.persuasion_every),
        promise_grace=dur("persuasion.promise_grace", base.promise_grace),
        notice_min_prior_visits=count("notice.min_prior_visits", base.notice_min_prior_visits),
        climb_working_days=count("escalation.climb_after_working_days", base.climb_working_days, 1),
        follow_up=dur("escalation.follow_up", base.follow_up),
        repeat_overdue=dur("escalation.repeat_overdue", base.repeat_overdue),
        report_within=dur("escalation.report_within", base.report_within),
        order_within=dur("escalation.order_within", base.order_within),
        legal_follow_up=dur("escalation.legal_follow_up", base.legal_follow_up),
        classified_recheck=dur("verification.classified_recheck", base.classified_recheck),
        missing_recheck=dur("missing.recheck_every", base.missing_recheck),
        deferral_remind_before=dur("deferral.remind_before", base.deferral_remind_before),
        retention_answer_within=dur("retention.answer_within", base.retention_answer_within),
        approve_within=dur("retention.approve_within", base.approve_within),
        rework_check=dur("retention.rework_check", base.rework_check),
        school_year_starts=(month, dom),
        persuasion_rounds=tuple(
            parse_duration(x, "term_start.persuasion_rounds")
            for x in _optional(data, "term_start.persuasion_rounds", [])
        ),
    )


def _local_holidays(data: dict[str, Any], make_up: frozenset[date]) -> frozenset[date]:
    """quiet_hours.holidays: days off a county typed into its policy file, added to the calendar's."""
    days = _optional(data, "quiet_hours.holidays", [])
    if not isinstance(days, list) or not all(
        isinstance(d, date) and not isinstance(d, datetime) for d in days
    ):
        raise PolicyError("quiet_hours.holidays: must be a list of dates like 2026-10-01")
    if both := sorted(set(days) & make_up):
        raise PolicyError(f"quiet_hours.holidays: {both[0]} is a make-up working day in the calendar")
    return frozenset(days)


def load_policy(path: Path | None = None, calendar: Path | None = None) -> Policy:
    """Reads the policy file (default: the shipped one) and the school calendar (the shipped one extended
    by `calendar`, domain.calendar.school), checking every key. A bad calendar raises CalendarError."""
    source = path or DEFAULT_POLICY
    try:
        text = source.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: {exc}") from None
    d = lambda key: parse_duration(_get(data, key), key)
    # Terms moved to the calendar file; an older policy file's [[term_start.terms]] still count, unless
    # the county's calendar file lists its own.
    old_terms = _optional(data, "term_start.terms", None)
    try:
        fallback = None if old_terms is None else policy_terms(old_terms, source.name, text)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    school = load_calendar(calendar, fallback_terms=fallback)
    day = int(_get(data, "monthly_report.day_of_month"))
    if not 1 <= day <= 28:
        raise PolicyError("monthly_report.day_of_month: must be 1–28 so every month has it")
    confirm_by = int(data.get("monthly_report", {}).get("confirm_by_day", 5))
    if not day <= confirm_by <= 28:
        raise PolicyError("monthly_report.confirm_by_day: must be from day_of_month to 28")
    return Policy(
        suspect_after=d("absence.suspect_after"),
        first_visit_due=d("absence.first_visit_due"),
        verification_window=d("term_start.verification_window"),
        roll_call_days=int(_get(data, "term_start.roll_call_days")),
        terms=school.terms or (),
        notice_return_due=d("notice.return_due"),
        retention_checks=tuple(parse_duration(x, "retention.checks") for x in _get(data, "retention.checks")),
        monthly_report_day=day,
        quiet_start=_clock_time(_get(data, "quiet_hours.start"), "quiet_hours.start"),
        quiet_end=_clock_time(_get(data, "quiet_hours.end"), "quiet_hours.end"),
        skip_weekends=bool(_get(data, "quiet_hours.skip_weekends")),
        holidays=school.holidays | _local_holidays(data, school.make_up_workdays),
        make_up_workdays=school.make_up_workdays,
        vacations=school.vacations or (),
        calendar_years=school.years,
        reminders=_reminder_policy(data),
        steps=_step_policy(data),
        data_retention=data_retention(data),
        monthly_report_confirm_by=confirm_by,
    )
