"""县区一季度一复核 (003_ee1c82519c64281c.txt; the county bureau checks school data quarterly,
004_4b017d4e2bf19d2a.txt): per school in scope, what happened in a period of whole months, counted from
the case timelines like the monthly report, and how many of its monthly reports the principal confirmed.

Any period and any set of schools: the quarter is the county's, and the same builder serves a term's
(地市一学期一调研) and a school year's (省级一学年一评估) figures for a city or a province: each school row
names the areas above it, so the figures can be summed per county or city (domain.reports.area_review)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from domain.reports.monthly_numbers import LISTED, MonthlyNumbers, tally
from domain.school_age.out_of_school_figures import TownshipOutOfSchool
from storage.ledger_queries import LedgerQueries
from storage.models import Area, School
from storage.report_confirmations import ConfirmationQueries
from storage.uow import UnitOfWork

OPEN_LONG = timedelta(days=30)  # "open over 30 days": on a ledger this long at the end of the period
FIGURES = (
    "new_suspected",
    "new_dropouts",
    "returned",
    "cleared",
    "closed",
    "open_long",
    "visits",
    "reports_confirmed",
)


def add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class ReviewPeriod(Protocol):
    """What the builder needs of a period: a quarter here, a term or a school year
    (domain.reports.review_periods)."""

    @property
    def first(self) -> date: ...  # its first day

    @property
    def end(self) -> date: ...  # the first day after it

    @property
    def month_starts(self) -> list[date]: ...  # the months whose monthly reports belong to it

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class Period:
    """Whole calendar months from `first` (its first day), `months` long."""

    first: date
    months: int = 3

    @classmethod
    def quarter_of(cls, day: date) -> Period:
        return cls(date(day.year, (day.month - 1) // 3 * 3 + 1, 1), 3)

    @classmethod
    def quarter_before(cls, day: date) -> Period:
        """The last quarter that has ended by `day`."""
        return cls.quarter_of(cls.quarter_of(day).first - timedelta(days=1))

    @property
    def end(self) -> date:
        """The first day after the period."""
        return add_months(self.first, self.months)

    @property
    def month_starts(self) -> list[date]:
        return [add_months(self.first, i) for i in range(self.months)]

    @property
    def label(self) -> str:
        if self.months == 3 and self.first.month % 3 == 1:
            return f"{self.first.year}Q{(self.first.month - 1) // 3 + 1}"
        last = add_months(self.first, self.months - 1)
        return f"{self.first:%Y-%m}—{last:%Y-%m}"


@dataclass
class SchoolReview:
    school_id: int
    school_name: str
    township: str
    areas: dict[str, str] = field(default_factory=dict)  # level -> name of the areas above the school
    new_suspected: int = 0
    new_dropouts: int = 0
    returned: int = 0
    cleared: int = 0
    closed: int = 0
    open_long: int = 0  # on a ledger at the end of the period, entered it over OPEN_LONG before
    visits: int = 0  # home visits (劝返/家访) logged in the period
    reports_confirmed: int = 0  # monthly reports of the period the principal confirmed
    reports_due: int = 0  # months of the period that have ended
    unconfirmed: list[date] = field(default_factory=list)  # first days of those months not confirmed


@dataclass
class QuarterlyReview:
    period: ReviewPeriod
    area_name: str
    schools: list[SchoolReview]
    # 失学 children (never enrolled) per township, apart from the schools' dropouts (issue 16)
    out_of_school: list[TownshipOutOfSchool] = field(default_factory=list)

    def total(self, key: str) -> int:
        return sum(getattr(s, key) for s in self.schools)


def _open_long(events: Sequence[Any], as_of: datetime) -> int:
    """Cases on a ledger at `as_of` that entered the ledgers (from outside them) over OPEN_LONG before."""
    entered: dict[int, datetime] = {}
    status: dict[int, str] = {}
    for case_id, _kind, occurred_at, from_status, to_status in events:
        if to_status is None:
            continue
        status[case_id] = to_status
        if to_status in LISTED and from_status not in LISTED:
            entered[case_id] = occurred_at
    return sum(s in LISTED and as_of - entered[i] > OPEN_LONG for i, s in status.items() if i in entered)


def _area_chains(areas: Sequence[Area]) -> dict[int, dict[str, str]]:
    """For each area: the names of it and the areas above it, by level."""
    by_id = {a.id: a for a in areas}
    chains: dict[int, dict[str, str]] = {}
    for area in areas:
        chain: dict[str, str] = {}
        node: Area | None = area
        while node is not None and node.level not in chain and len(chain) < len(by_id):
            chain[node.level] = node.name
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        chains[area.id] = chain
    return chains


async def quarterly_review(
    uow: UnitOfWork,
    schools: Collection[School],
    period: ReviewPeriod,
    *,
    area_name: str,
    now: datetime,
    tz: ZoneInfo,
) -> QuarterlyReview:
    """The figures of each school for the period (the caller chose schools in the person's scope). A
    period not yet over counts up to now: its "end" figures are as things stand."""
    start = datetime.combine(period.first, time.min, tz)
    end = datetime.combine(period.end, time.min, tz)
    as_of = min(end, now)
    queries = LedgerQueries(uow.session)
    ended = [m for m in period.month_starts if add_months(m, 1) <= now.astimezone(tz).date()]
    confirmed = await ConfirmationQueries(uow.session).confirmed(
        [s.id for s in schools], period.month_starts[0], period.month_starts[-1]
    )
    chains = _area_chains(await uow.directory.areas())
    rows = []
    for school in sorted(schools, key=lambda s: (s.code, s.id)):
        areas = chains.get(school.area_id, {})
        events = await queries.school_events(school.id, end)
        numbers = MonthlyNumbers(school_id=school.id, school_name=school.name, month=period.first)
        tally(numbers, events, start)
        missing = [m for m in ended if (school.id, m) not in confirmed]
        rows.append(
            SchoolReview(
                school_id=school.id,
                school_name=school.name,
                township=areas.get("township", ""),
                areas=areas,
                new_suspected=numbers.new_suspected,
                new_dropouts=numbers.new_dropouts,
                returned=numbers.returned,
                cleared=numbers.cleared,
                closed=numbers.closed,
                open_long=_open_long(events, as_of),
                visits=numbers.persuasion_attempts,
                reports_confirmed=len(ended) - len(missing),
                reports_due=len(ended),
                unconfirmed=missing,
            )
        )
    return QuarterlyReview(period, area_name, rows)
