"""县区一季度一复核 (003_ee1c82519c64281c.txt; the county bureau checks school data quarterly,
004_4b017d4e2bf19d2a.txt): per school in scope, what happened in a period of whole months, counted from
the case timelines like the monthly report, and how many of its monthly reports the principal confirmed.

Any period and any set of schools: the quarter is the county's, and the same builder serves a term's or
a year's figures for a larger area once those levels exist (一学期一调研, 一学年一评估)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.monthly_numbers import LISTED, MonthlyNumbers, tally
from domain.out_of_school_figures import TownshipOutOfSchool
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


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


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
        return _add_months(self.first, self.months)

    @property
    def month_starts(self) -> list[date]:
        return [_add_months(self.first, i) for i in range(self.months)]

    @property
    def label(self) -> str:
        if self.months == 3 and self.first.month % 3 == 1:
            return f"{self.first.year}Q{(self.first.month - 1) // 3 + 1}"
        last = _add_months(self.first, self.months - 1)
        return f"{self.first:%Y-%m}—{last:%Y-%m}"


@dataclass
class SchoolReview:
    school_id: int
    school_name: str
    township: str
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
    period: Period
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


async def quarterly_review(
    uow: UnitOfWork,
    schools: Collection[School],
    period: Period,
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
    ended = [m for m in period.month_starts if _add_months(m, 1) <= now.astimezone(tz).date()]
    confirmed = await ConfirmationQueries(uow.session).confirmed(
        [s.id for s in schools], period.first, period.month_starts[-1]
    )
    townships: dict[int, str] = {}
    rows = []
    for school in sorted(schools, key=lambda s: (s.code, s.id)):
        if school.area_id not in townships:
            area = await uow.session.get(Area, school.area_id)
            townships[school.area_id] = area.name if area else ""
        events = await queries.school_events(school.id, end)
        numbers = MonthlyNumbers(school_id=school.id, school_name=school.name, month=period.first)
        tally(numbers, events, start)
        missing = [m for m in ended if (school.id, m) not in confirmed]
        rows.append(
            SchoolReview(
                school_id=school.id,
                school_name=school.name,
                township=townships[school.area_id],
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
