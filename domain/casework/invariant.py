"""No case ever goes silent: every case that is not closed or cleared has an owner (an active person
responsible for it) and a next dated step, and someone is due to be told about it. One query, used by the
property test, the dashboard ("cases without a next step", expected empty) and `notoneless doctor`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.casework.lifecycle import TIMED_STATUSES
from domain.policy import Policy
from storage.scope import Scope
from storage.uow import UnitOfWork, UnitOfWorkFactory

PROBLEMS = ("no_owner", "owner_inactive", "no_next_step", "nobody_told")
HEAL_BATCH = 500


@dataclass(frozen=True)
class Violation:
    case_id: int
    number: str
    status: str
    problems: tuple[str, ...]  # PROBLEMS entries


async def silent_cases(
    uow: UnitOfWork, scope: Scope | None = None, limit: int = 1000, case_ids: list[int] | None = None
) -> list[Violation]:
    """Open cases (in scope, or among `case_ids`, if given) that break the invariant, with what is missing."""
    found = []
    for case_id, number, status, owner_id, owner_active, next_due, told in await uow.cases.silent(
        scope, sorted(s.value for s in TIMED_STATUSES), limit, case_ids
    ):
        problems = []
        if owner_id is None:
            problems.append("no_owner")
        elif not owner_active:
            problems.append("owner_inactive")
        if next_due is None:
            problems.append("no_next_step")
        if not told:
            problems.append("nobody_told")
        found.append(Violation(case_id, number, status, tuple(problems)))
    return found


async def heal(
    uow_factory: UnitOfWorkFactory, policy: Policy, now: datetime, tz: ZoneInfo
) -> tuple[int, list[Violation]]:
    """Replans the cases that went silent (an owner deactivated by a roster import, a send that never got
    its follow-up planned) and returns how many were found and those still silent (they need a person)."""
    from domain.reminders.planning import replan_cases  # the planner imports this package's use cases

    async with uow_factory() as uow:
        found = await silent_cases(uow, limit=HEAL_BATCH)
    if not found:
        return 0, []
    await replan_cases(uow_factory, [v.case_id for v in found], policy, now, tz)
    async with uow_factory() as uow:
        still = await silent_cases(uow, case_ids=[v.case_id for v in found])
    return len(found), still
