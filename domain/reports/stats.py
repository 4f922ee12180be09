"""Numbers for coordinators: overdue rules, counts, weekly flow and the retention rate (巩固率)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.casework.lifecycle import OPEN_STATUSES, TIMED_STATUSES, CaseStatus
from domain.reports.tally import Tally, count, responsible_elsewhere, scope_key, week_start
from storage import tallies
from storage.models import Case
from storage.reporting import ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWork

S = CaseStatus
# One rule for "overdue", here and in every list, count and filter: the case's next step
# (domain.casework.steps: a visit, a verification, a report, an approval, …) is past its due time while the
# case is open and not cleared. The SQL filter (storage.reporting.overdue_clause) reads the same rule.
OVERDUE_RULES: dict[str, frozenset[str]] = {"next_step_due_at": frozenset(s.value for s in TIMED_STATUSES)}
CHART_WEEKS = 12


def is_overdue(case: Case, now: datetime) -> bool:
    """The same rule as the SQL filter, for a case already loaded."""
    return any(
        getattr(case, column) is not None and getattr(case, column) < now and case.status in statuses
        for column, statuses in OVERDUE_RULES.items()
    )


@dataclass(frozen=True)
class CategoryCount:
    scheme: str | None
    code: str | None
    label_zh: str
    label_en: str
    count: int


@dataclass(frozen=True)
class WeekCount:
    starts_on: date
    opened: int
    returned: int


@dataclass(frozen=True)
class Overview:
    """Everything on the overview page and in the statistics API."""

    by_status: dict[str, int]
    by_category: list[CategoryCount]
    overdue_by_school: list[tuple[int, str, int]]
    weeks: list[WeekCount]
    enrolled: int
    dropped_out: int
    retention_rate: float | None
    as_of: datetime | None = None  # when the numbers come from a snapshot; None: counted just now
    out_of_school: int = 0  # 失学 children (never enrolled) still out of school, apart from dropouts

    @property
    def open_total(self) -> int:
        return sum(n for s, n in self.by_status.items() if s in OPEN_STATUSES)

    @property
    def overdue_total(self) -> int:
        return sum(n for _, _, n in self.overdue_by_school)


def retention_rate(enrolled: int, dropped_out: int) -> float | None:
    """(enrolled − dropped out) / enrolled, or None without a roster.

    The official 巩固率 compares graduates with the intake nine years earlier; the roster here has no
    such history, so the dashboard uses the share of pupils on the roll who are not in the dropout
    ledger (辍学学生台账, DOMAIN.md §2 and §3: statuses dropped_out … escalated)."""
    if enrolled <= 0:
        return None
    return max(0.0, (enrolled - dropped_out) / enrolled)


def chart_since(now: datetime, tz: ZoneInfo, weeks: int = CHART_WEEKS) -> datetime:
    first = week_start(now.astimezone(tz).date()) - timedelta(weeks=weeks - 1)
    return datetime.combine(first, time.min, tz)


def weekly_counts(tally: Tally, now: datetime, tz: ZoneInfo, weeks: int = CHART_WEEKS) -> list[WeekCount]:
    """Cases opened and returned per local calendar week, the last `weeks` weeks, oldest first."""
    first = week_start(now.astimezone(tz).date()) - timedelta(weeks=weeks - 1)
    starts = [first + timedelta(weeks=i) for i in range(weeks)]
    return [WeekCount(s, tally.opened_weeks[s], tally.returned_weeks[s]) for s in starts]


async def _categories(uow: UnitOfWork, counts: Counter[tuple[str | None, str | None]]) -> list[CategoryCount]:
    """Open cases by official category, labelled from the code lists, largest first."""
    found = []
    for (scheme, code), n in counts.items():
        if not n:
            continue
        row = await uow.codes.get(scheme, code) if scheme and code else None
        found.append(
            CategoryCount(scheme, code, row.label_zh if row else "", row.label_en if row else "", int(n))
        )
    return sorted(found, key=lambda c: (-c.count, c.scheme or "~", c.code or ""))


async def _overdue_schools(uow: UnitOfWork, counts: Counter[int]) -> list[tuple[int, str, int]]:
    """(school id, name, overdue cases), most overdue first; school id NO_SCHOOL (0, name "") groups the
    失学 children's cases, who have no school."""
    names = await ReportingRepository(uow.session).school_names([i for i, n in counts.items() if n and i])
    return sorted(
        ((i, names.get(i, ""), int(n)) for i, n in counts.items() if n), key=lambda r: (-r[2], r[1])
    )


async def overview(
    uow: UnitOfWork, scope: Scope, *, now: datetime, tz: ZoneInfo, snapshot_max_age: timedelta | None = None
) -> Overview:
    """Counts, overdue work per school, the weekly flow and the retention rate of the person's area.

    Large areas read the scheduler's snapshot of their numbers (domain.reports.overview_snapshots) while it is
    younger than `snapshot_max_age`; everyone else, and everyone when the snapshot is missing or old,
    gets live counts. Cases the person is responsible for outside their area are always counted live."""
    since = chart_since(now, tz)
    stored = await tallies.snapshot(uow.session, scope_key(scope)) if snapshot_max_age is not None else None
    if stored is not None and now - stored.computed_at <= snapshot_max_age:  # type: ignore[operator]
        tally, as_of = Tally.from_json(stored.payload), stored.computed_at
    else:
        tally = await count(uow, tallies.pupils_in(scope), now=now, since=since, tz=tz, rules=OVERDUE_RULES)
        as_of = None
    tally += await responsible_elsewhere(uow, scope, now=now, since=since, tz=tz, rules=OVERDUE_RULES)
    return Overview(
        by_status={s: n for s, n in tally.by_status.items() if n},
        by_category=await _categories(uow, tally.by_category),
        overdue_by_school=await _overdue_schools(uow, tally.overdue_by_school),
        weeks=weekly_counts(tally, now, tz),
        enrolled=tally.enrolled,
        dropped_out=tally.dropped_out,
        retention_rate=retention_rate(tally.enrolled, tally.dropped_out),
        as_of=as_of,
        out_of_school=tally.out_of_school,
    )
