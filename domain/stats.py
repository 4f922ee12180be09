"""Numbers for coordinators: overdue rules, counts, weekly flow and the retention rate (巩固率)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.lifecycle import DROPOUT_LEDGER, OPEN_STATUSES, CaseStatus
from storage.models import Case
from storage.reporting import ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWork

S = CaseStatus
# When a deadline counts as missed: the column is in the past while the case is still in one of
# these statuses. A first home visit moves an absent or suspected case to "verifying" (domain.visits),
# so visit_due_at binds only before it; the 15-day term-start verification (004_4b017d4e2bf19d2a.txt)
# binds until the case is cleared, found missing or confirmed; the 7-day return deadline after the
# written notice (001_66f255ef30f14f7a.txt) binds while the notice is the latest step.
OVERDUE_RULES: dict[str, frozenset[str]] = {
    "visit_due_at": frozenset({S.ABSENT.value, S.SUSPECTED.value}),
    "verification_due_at": frozenset({S.ABSENT.value, S.SUSPECTED.value, S.VERIFYING.value}),
    "return_due_at": frozenset({S.NOTICE_ISSUED.value}),
}
CHART_WEEKS = 12


def is_overdue(case: Case, now: datetime) -> bool:
    """The same rule as the SQL filter, for a case already loaded."""
    return any(getattr(case, column) is not None and getattr(case, column) < now and case.status in statuses
               for column, statuses in OVERDUE_RULES.items())


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


def week_start(day: date) -> date:
    """Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


def weekly_counts(opened: list[datetime], returned: list[datetime], now: datetime, tz: ZoneInfo,
                  weeks: int = CHART_WEEKS) -> list[WeekCount]:
    """Cases opened and returned per local calendar week, the last `weeks` weeks, oldest first."""
    first = week_start(now.astimezone(tz).date()) - timedelta(weeks=weeks - 1)
    starts = [first + timedelta(weeks=i) for i in range(weeks)]
    counts = {s: [0, 0] for s in starts}
    for index, moments in enumerate((opened, returned)):
        for moment in moments:
            start = week_start(moment.astimezone(tz).date())
            if start in counts:
                counts[start][index] += 1
    return [WeekCount(s, counts[s][0], counts[s][1]) for s in starts]


def chart_since(now: datetime, tz: ZoneInfo, weeks: int = CHART_WEEKS) -> datetime:
    first = week_start(now.astimezone(tz).date()) - timedelta(weeks=weeks - 1)
    return datetime.combine(first, time.min, tz)


async def category_counts(uow: UnitOfWork, scope: Scope) -> list[CategoryCount]:
    """Open cases by official category, labelled from the code lists, largest first."""
    rows = await ReportingRepository(uow.session).counts_by_category(scope, sorted(OPEN_STATUSES))
    found = []
    for scheme, code, count in rows:
        row = await uow.codes.get(scheme, code) if scheme and code else None
        found.append(CategoryCount(scheme, code, row.label_zh if row else "", row.label_en if row else "",
                                   int(count)))
    return sorted(found, key=lambda c: (-c.count, c.scheme or "~", c.code or ""))


async def overview(uow: UnitOfWork, scope: Scope, *, now: datetime, tz: ZoneInfo) -> Overview:
    """Counts, overdue work per school, the weekly flow and the retention rate of the person's area."""
    repo = ReportingRepository(uow.session)
    since = chart_since(now, tz)
    enrolled = await repo.enrolled(scope)
    dropped = await repo.pupils_with_status(scope, sorted(DROPOUT_LEDGER))
    return Overview(
        by_status=await repo.counts_by_status(scope),
        by_category=await category_counts(uow, scope),
        overdue_by_school=[(int(i), str(n), int(c))
                           for i, n, c in await repo.overdue_by_school(scope, now, OVERDUE_RULES)],
        weeks=weekly_counts(await repo.opened_since(scope, since),
                            await repo.moved_to_since(scope, S.RETURNED.value, since), now, tz),
        enrolled=enrolled, dropped_out=dropped, retention_rate=retention_rate(enrolled, dropped),
    )
