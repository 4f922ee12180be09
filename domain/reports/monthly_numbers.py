"""学校一月一报告 (003_ee1c82519c64281c.txt): a school's numbers for one calendar month, counted from the
case timelines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from domain.casework.lifecycle import DROPOUT_LEDGER, SUSPECTED_LEDGER, CaseStatus
from domain.errors import NotInScope
from domain.reports.stats import retention_rate
from storage.ledger_queries import VISIT, LedgerQueries
from storage.uow import UnitOfWork

S = CaseStatus
# "Suspected or later": the statuses of the two ledgers. A plain absence is on neither (DOMAIN.md §3).
LISTED = SUSPECTED_LEDGER | DROPOUT_LEDGER
SUMMARY_ROWS = (
    "enrolled",
    "new_suspected",
    "new_dropouts",
    "returned",
    "cleared",
    "closed",
    "persuasion_attempts",
    "open_suspected",
    "open_dropouts",
    "in_retention",
    "retention_rate",
)


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first moment of the month, first moment of the next month) in local time."""
    first = month.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return datetime.combine(first, time.min, tz), datetime.combine(following, time.min, tz)


@dataclass
class MonthlyNumbers:
    """What the school reports for the month. "New" counts distinct cases entering a ledger in the
    month; returned, cleared and closed count distinct cases of the ledgers that came back, were
    cleared (核减: a clear or a deferral) or closed (销号) in the month; "open" counts are the ledgers
    as they stood at the end of the month (or now, if earlier), in_retention the ledgers' cases back
    in school and followed up."""

    school_id: int
    school_name: str
    month: date
    enrolled: int = 0
    new_suspected: int = 0
    new_dropouts: int = 0
    returned: int = 0
    cleared: int = 0
    closed: int = 0
    persuasion_attempts: int = 0
    open_suspected: int = 0
    open_dropouts: int = 0
    in_retention: int = 0
    status_at_end: dict[int, str] = field(default_factory=dict)

    @property
    def retention_rate(self) -> float | None:
        return retention_rate(self.enrolled, self.open_dropouts)

    def value(self, key: str) -> Any:
        rate = self.retention_rate
        if key == "retention_rate":
            return None if rate is None else round(rate, 4)
        return getattr(self, key)


def _tally(numbers: MonthlyNumbers, events: Sequence[Any], start: datetime) -> None:
    """Replays the timelines up to the end of the month (events in order per case): which cases
    entered which ledger in the month, which were cleared, came back or were closed, and where each
    case stood at the end. Only cases on the ledgers count: a plain absence that turns out excused
    (cleared), ends with the pupil back (returned) or is closed never was a suspected dropout, so it
    is neither 核减 nor 复学 nor 销号 in the report."""
    counted: dict[str, set[int]] = {
        k: set() for k in ("suspected", "dropout", "returned", "cleared", "closed")
    }
    listed: set[int] = set()  # cases that have been on a ledger by this point of the replay
    for case_id, kind, occurred_at, from_status, to_status in events:
        in_month = occurred_at >= start
        if in_month and kind == VISIT:
            numbers.persuasion_attempts += 1
        if to_status is None:
            continue
        numbers.status_at_end[case_id] = to_status
        was_listed = case_id in listed
        if to_status in LISTED:
            listed.add(case_id)
        if not in_month:
            continue
        if to_status in LISTED and from_status not in LISTED:
            counted["suspected"].add(case_id)  # 新增疑似辍学: suspected or later, from outside the ledgers
        if to_status in DROPOUT_LEDGER and from_status not in DROPOUT_LEDGER:
            counted["dropout"].add(case_id)
        if to_status in (S.CLEARED, S.RETURNED) and from_status in LISTED:
            counted[to_status].add(case_id)  # 核减 (a clear or a deferral) and 复学, off a ledger
        if to_status == S.CLOSED and was_listed:
            counted["closed"].add(case_id)  # 销号: the closing approved
    numbers.new_suspected, numbers.new_dropouts = len(counted["suspected"]), len(counted["dropout"])
    numbers.returned, numbers.cleared = len(counted["returned"]), len(counted["cleared"])
    numbers.closed = len(counted["closed"])
    at_end = numbers.status_at_end
    numbers.open_suspected = sum(s in SUSPECTED_LEDGER for s in at_end.values())
    numbers.open_dropouts = sum(s in DROPOUT_LEDGER for s in at_end.values())
    numbers.in_retention = sum(s in (S.RETURNED, S.RETENTION) and i in listed for i, s in at_end.items())


async def monthly_numbers(uow: UnitOfWork, school_id: int, month: date, tz: ZoneInfo) -> MonthlyNumbers:
    """Counts the school's month from the case timelines (events are never changed afterwards)."""
    queries = LedgerQueries(uow.session)
    school = await queries.school(school_id)
    if school is None:
        raise NotInScope(f"school {school_id}")
    start, end = month_bounds(month, tz)
    numbers = MonthlyNumbers(
        school_id=school.id,
        school_name=school.name,
        month=start.date(),
        enrolled=await queries.enrolled_in_school(school.id),
    )
    _tally(numbers, await queries.school_events(school.id, end), start)
    return numbers


# The quarterly review (domain.reports.quarterly_review) replays periods of several months the same way.
tally = _tally
