"""The overview's numbers before labels: counts that add up across groups of pupils and across scopes.

A live overview adds up the rows of one scope; the snapshot builder adds up one pass over every case
into many scopes at once (domain.reports.overview_snapshots). Both go through `Tally.add_cases` & co., so a
snapshot and a live count of the same data are the same numbers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

from domain.casework.lifecycle import DROPOUT_LEDGER, OPEN_STATUSES, SUSPECTED_LEDGER, CaseStatus
from domain.school_age.school_roll import OUT_OF_SCHOOL
from storage import tallies
from storage.reporting import OverdueRules
from storage.scope import Scope
from storage.uow import UnitOfWork

_OPEN = frozenset(s.value for s in OPEN_STATUSES)
_LEDGER = frozenset(s.value for s in DROPOUT_LEDGER)
# A 失学 child is still out of school while their case is suspected, verified, missing or being persuaded.
_STILL_OUT = frozenset(s.value for s in SUSPECTED_LEDGER | DROPOUT_LEDGER)
NO_SCHOOL = 0  # the overdue group of cases whose child has no school (失学)
RETURNED = CaseStatus.RETURNED.value


def week_start(day: date) -> date:
    """Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


@dataclass
class Tally:
    """Counts of one scope. Categories count open cases; `dropped_out` and `enrolled` count pupils in
    the scope by where they are (not cases someone is responsible for elsewhere), as the retention rate
    needs; weeks are local calendar weeks (Monday) of openings and returns. `out_of_school` counts
    失学 children (never enrolled) still out of school, apart from dropouts (issue 16)."""

    by_status: Counter[str] = field(default_factory=Counter)
    by_category: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    overdue_by_school: Counter[int] = field(default_factory=Counter)
    opened_weeks: Counter[date] = field(default_factory=Counter)
    returned_weeks: Counter[date] = field(default_factory=Counter)
    enrolled: int = 0
    dropped_out: int = 0
    out_of_school: int = 0

    @property
    def cases(self) -> int:
        return sum(self.by_status.values())

    def add_cases(self, row: Any, *, pupils: bool = True) -> None:
        """One row of storage.tallies.case_counts; `pupils=False` for cases outside the pupil scope."""
        school, _village, status, scheme, code, cases, active, overdue, kind = row
        self.by_status[status] += int(cases)
        if status in _OPEN:
            self.by_category[(scheme, code)] += int(cases)
        if overdue:
            self.overdue_by_school[NO_SCHOOL if school is None else school] += int(overdue)
        if kind == OUT_OF_SCHOOL:
            if pupils and status in _STILL_OUT:
                self.out_of_school += int(active or 0)
        elif pupils and status in _LEDGER:
            # One open case per pupil (uq_cases_open_student), so cases of active pupils = pupils.
            self.dropped_out += int(active or 0)

    def add_opened(self, moment: datetime, tz: ZoneInfo) -> None:
        self.opened_weeks[week_start(moment.astimezone(tz).date())] += 1

    def add_returned(self, moment: datetime, tz: ZoneInfo) -> None:
        self.returned_weeks[week_start(moment.astimezone(tz).date())] += 1

    def __iadd__(self, other: Tally) -> Self:
        counters: tuple[tuple[Counter[Any], Counter[Any]], ...] = (
            (self.by_status, other.by_status),
            (self.by_category, other.by_category),
            (self.overdue_by_school, other.overdue_by_school),
            (self.opened_weeks, other.opened_weeks),
            (self.returned_weeks, other.returned_weeks),
        )
        for mine, theirs in counters:
            mine.update(theirs)
        self.enrolled += other.enrolled
        self.dropped_out += other.dropped_out
        self.out_of_school += other.out_of_school
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "by_status": dict(self.by_status),
            "by_category": [[s, c, n] for (s, c), n in sorted(self.by_category.items(), key=str)],
            "overdue_by_school": {str(k): n for k, n in self.overdue_by_school.items()},
            "opened_weeks": {d.isoformat(): n for d, n in self.opened_weeks.items()},
            "returned_weeks": {d.isoformat(): n for d, n in self.returned_weeks.items()},
            "enrolled": self.enrolled,
            "dropped_out": self.dropped_out,
            "out_of_school": self.out_of_school,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(
            by_status=Counter(data["by_status"]),
            by_category=Counter({(s, c): n for s, c, n in data["by_category"]}),
            overdue_by_school=Counter({int(k): n for k, n in data["overdue_by_school"].items()}),
            opened_weeks=Counter({date.fromisoformat(k): n for k, n in data["opened_weeks"].items()}),
            returned_weeks=Counter({date.fromisoformat(k): n for k, n in data["returned_weeks"].items()}),
            enrolled=int(data["enrolled"]),
            dropped_out=int(data["dropped_out"]),
            out_of_school=int(data.get("out_of_school", 0)),  # snapshots stored before 失学 cases
        )


def scope_key(scope: Scope) -> str:
    """Names what a scope sees by where pupils are (not who looks), so people with the same area share
    one snapshot."""
    if scope.everything:
        return "everything"
    parts = [
        ",".join(map(str, sorted(ids))) for ids in (scope.class_ids, scope.school_ids, scope.village_ids)
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


async def count(
    uow: UnitOfWork,
    where: Any,
    *,
    now: datetime,
    since: datetime,
    tz: ZoneInfo,
    rules: OverdueRules,
    pupils: bool = True,
) -> Tally:
    """A tally of the cases (and, with `pupils`, the enrolled pupils) matching `where`, read live."""
    s = uow.session
    tally = Tally()
    async for row in tallies.case_counts(s, where, now, rules):
        tally.add_cases(row, pupils=pupils)
    if pupils:
        async for _school, _village, n in tallies.enrolled_counts(s, where):
            tally.enrolled += int(n)
    async for _school, _village, moment in tallies.opened_since(s, where, since):
        tally.add_opened(moment, tz)
    async for _school, _village, moment in tallies.moved_since(s, where, RETURNED, since):
        tally.add_returned(moment, tz)
    return tally


async def responsible_elsewhere(
    uow: UnitOfWork, scope: Scope, *, now: datetime, since: datetime, tz: ZoneInfo, rules: OverdueRules
) -> Tally:
    """Cases the person is responsible for whose pupil lies outside their scope (usually none)."""
    where = tallies.responsible_outside(scope)
    if where is None:
        return Tally()
    return await count(uow, where, now=now, since=since, tz=tz, rules=rules, pupils=False)
