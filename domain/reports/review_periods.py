"""The periods of 地市一学期一调研 and 省级一学年一评估 (003_ee1c82519c64281c.txt): a term, from its start
(policy [[term_start.terms]]) to the day before the next term's start, and a school year, from
[calendar] school_year_starts to the day before the next one. When each review goes out at the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.policy import Policy, Term
from domain.reminders.quiet_hours import is_quiet
from domain.reports.quarterly_review import add_months

# A review missed at the period's end (a weekend, an outage) still goes out this long after it.
CATCH_UP = timedelta(days=31)


@dataclass(frozen=True)
class Span:
    """Whole days from `first` up to the day before `end`; `label` names it (a term's name from the
    policy, or 2026-2027 for a school year)."""

    first: date
    end: date
    label: str

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def month_starts(self) -> list[date]:
        """The calendar months the span touches: their monthly reports belong to it."""
        months, month = [], self.first.replace(day=1)
        while month < self.end:
            months.append(month)
            month = add_months(month, 1)
        return months

    @property
    def dates(self) -> str:
        return f"{self.first:%Y-%m-%d}—{self.last:%Y-%m-%d}"


def _year_start(policy: Policy, year: int) -> date:
    month, day = policy.steps.school_year_starts
    return date(year, month, day)


def school_year(policy: Policy, year: int) -> Span:
    """The school year that starts in `year` (2026: 2026-09-01 to 2027-08-31 by default)."""
    return Span(_year_start(policy, year), _year_start(policy, year + 1), f"{year}-{year + 1}")


def school_year_of(policy: Policy, day: date) -> Span:
    return school_year(policy, policy.steps.school_year_start(day).year)


def term_span(policy: Policy, term: Term) -> Span:
    """The term up to the day before the next configured term starts; the last one configured runs to
    the end of its school year."""
    later = [t.starts_on for t in policy.terms if t.starts_on > term.starts_on]
    end = min(later) if later else school_year_of(policy, term.starts_on).end
    return Span(term.starts_on, end, term.name)


def terms_started(policy: Policy, today: date) -> list[Span]:
    """Every configured term that has started by `today`, newest first."""
    started = sorted((t for t in policy.terms if t.starts_on <= today), key=lambda t: t.starts_on)
    return [term_span(policy, t) for t in reversed(started)]


def find_term(policy: Policy, value: str) -> Span | None:
    """A term by its start date (2026-09-01) or its name in the policy file."""
    for term in policy.terms:
        if value.strip() in (term.starts_on.isoformat(), term.name):
            return term_span(policy, term)
    return None


def default_term(policy: Policy, today: date) -> Span | None:
    """The last term that has ended, or else the one under way."""
    started = terms_started(policy, today)
    ended = [s for s in started if s.end <= today]
    choices = ended or started
    return choices[0] if choices else None


def _due(span: Span | None, now: datetime, policy: Policy, tz: ZoneInfo) -> Span | None:
    """`span` if its review goes out now: from its end (the next period's first day) at the digest time,
    for CATCH_UP, outside quiet hours and skipped days."""
    local = now.astimezone(tz)
    if span is None or is_quiet(now, policy, tz) or not span.end <= local.date() < span.end + CATCH_UP:
        return None
    if local.date() == span.end and local.time() < policy.reminders.digest_time:
        return None
    return span


def term_review_due(now: datetime, policy: Policy, tz: ZoneInfo) -> Span | None:
    """The term whose 一学期一调研 goes out to city officers now, if any."""
    today = now.astimezone(tz).date()
    ended = [s for s in terms_started(policy, today) if s.end <= today]
    return _due(ended[0] if ended else None, now, policy, tz)


def year_review_due(now: datetime, policy: Policy, tz: ZoneInfo) -> Span | None:
    """The school year whose 一学年一评估 goes out to province officers now, if any."""
    current = school_year_of(policy, now.astimezone(tz).date())
    return _due(school_year(policy, current.first.year - 1), now, policy, tz)
