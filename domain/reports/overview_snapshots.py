"""Overview snapshots: one pass over every case fills in the overview numbers of every large area.

Counted live, a county's or a province's overview reads every case of the area, which takes seconds at a
million cases (bench/RESULTS.md). The scheduler instead refreshes, every few minutes, the numbers of each
coordinator's scope holding more than `live_max_cases` cases, and their overview reads one row (and says
"as of"). Smaller scopes are always counted live, so a teacher's or principal's own change shows at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.people.roles import DASHBOARD_ROLES
from domain.people.scope import area_tree, scope_for
from domain.reports.stats import OVERDUE_RULES, chart_since
from domain.reports.tally import RETURNED, Tally, scope_key
from storage import tallies
from storage.models import OverviewSnapshot
from storage.scope import Scope
from storage.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Refresh:
    scopes: int  # distinct coordinator scopes counted
    stored: int  # of which large enough to be stored
    seconds: float


async def coordinator_scopes(uow: UnitOfWork) -> dict[str, Scope]:
    """The distinct scopes of active principals, officers and admins, by scope_key."""
    found: dict[str, Scope] = {}
    tree = await area_tree(uow)
    for staff in await uow.directory.all_staff():
        if staff.active and staff.role in DASHBOARD_ROLES:
            scope = await scope_for(uow, staff, tree)
            if not scope.class_ids:  # groups are (school, village): class scopes are counted live
                found.setdefault(scope_key(scope), scope)
    return found


def _router(scopes: dict[str, Scope], counts: dict[str, Tally]) -> Callable[[int, int | None], list[Tally]]:
    """(school, home village) → the tallies of every scope that sees pupils of that group."""
    everywhere = [counts[k] for k, s in scopes.items() if s.everything]
    by_school: dict[int, list[str]] = {}
    by_village: dict[int, list[str]] = {}
    for key, scope in scopes.items():
        for school in scope.school_ids:
            by_school.setdefault(school, []).append(key)
        for village in scope.village_ids:
            by_village.setdefault(village, []).append(key)
    memo: dict[tuple[int, int | None], list[Tally]] = {}

    def route(school: int, village: int | None) -> list[Tally]:
        group = (school, village)
        if group not in memo:
            keys = set(by_school.get(school, ())) | set(
                by_village.get(village, ()) if village is not None else ()
            )
            memo[group] = everywhere + [counts[k] for k in sorted(keys)]
        return memo[group]

    return route


async def refresh(
    uow_factory: UnitOfWorkFactory, *, now: datetime, tz: ZoneInfo, live_max_cases: int
) -> Refresh:
    """Counts every case once into every coordinator scope and stores the large ones (replacing all)."""
    started = time.perf_counter()
    since = chart_since(now, tz)
    async with uow_factory() as uow:
        scopes = await coordinator_scopes(uow)
        counts = {key: Tally() for key in scopes}
        route = _router(scopes, counts)
        s = uow.session
        async for row in tallies.case_counts(s, None, now, OVERDUE_RULES):
            for tally in route(row[0], row[1]):
                tally.add_cases(row)
        async for school, village, n in tallies.enrolled_counts(s, None):
            for tally in route(school, village):
                tally.enrolled += int(n)
        async for school, village, moment in tallies.opened_since(s, None, since):
            for tally in route(school, village):
                tally.add_opened(moment, tz)
        async for school, village, moment in tallies.moved_since(s, None, RETURNED, since):
            for tally in route(school, village):
                tally.add_returned(moment, tz)
    large = [
        OverviewSnapshot(scope_key=key, computed_at=now, cases=t.cases, payload=t.to_json())
        for key, t in counts.items()
        if t.cases > live_max_cases
    ]
    async with uow_factory() as uow:
        await tallies.replace_snapshots(uow.session, large)
        await uow.commit()
    return Refresh(scopes=len(scopes), stored=len(large), seconds=time.perf_counter() - started)
