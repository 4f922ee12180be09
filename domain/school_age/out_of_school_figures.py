"""失学 figures per township: children on no school roll are nobody's school's, so the monthly and
quarterly figures count them by the township of their village, apart from the schools' dropouts
(issue 16). Counted from the case timelines the same way as a school's month (domain.reports.monthly_numbers)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import groupby
from zoneinfo import ZoneInfo

from domain.reports.monthly_numbers import MonthlyNumbers, tally
from storage.ledger_queries import LedgerQueries
from storage.scope import Scope
from storage.uow import UnitOfWork

FIGURES = ("new", "enrolled", "cleared", "closed", "still_out", "visits")


@dataclass(frozen=True)
class TownshipOutOfSchool:
    """One township's 失学 children over a period: cases opened (new), children enrolled (入学), cleared
    (核减), closed (销号), still out of school at the end (suspected, verified or being persuaded), and
    visits logged."""

    township_id: int
    township: str
    new: int
    enrolled: int
    cleared: int
    closed: int
    still_out: int
    visits: int


async def out_of_school_figures(
    uow: UnitOfWork, scope: Scope, first: date, end: date, *, tz: ZoneInfo
) -> list[TownshipOutOfSchool]:
    """Per township of the person's area with 失学 cases, from `first` up to (not including) `end`; a
    period still running counts up to now (nothing later has happened)."""
    start = datetime.combine(first, time.min, tz)
    until = datetime.combine(end, time.min, tz)
    villages: Collection[int] | None = None if scope.everything else scope.village_ids
    rows = await LedgerQueries(uow.session).out_of_school_events(villages, until)
    found = []
    for (township_id, name), events in groupby(rows, key=lambda r: (r[0], r[1])):
        numbers = MonthlyNumbers(school_id=0, school_name=name, month=first)
        tally(numbers, [tuple(e)[2:] for e in events], start)
        found.append(
            TownshipOutOfSchool(
                township_id=township_id,
                township=name,
                new=numbers.new_suspected,
                enrolled=numbers.returned,
                cleared=numbers.cleared,
                closed=numbers.closed,
                still_out=numbers.open_suspected + numbers.open_dropouts,
                visits=numbers.persuasion_attempts,
            )
        )
    return found
