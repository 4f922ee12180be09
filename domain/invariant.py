"""No case ever goes silent: every case that is not closed or cleared has an owner (an active person
responsible for it) and a next dated step, and someone is due to be told about it. One query, used by the
property test, the dashboard ("cases without a next step", expected empty) and `notoneless doctor`."""

from __future__ import annotations

from dataclasses import dataclass

from domain.lifecycle import TIMED_STATUSES
from storage.scope import Scope
from storage.uow import UnitOfWork

PROBLEMS = ("no_owner", "owner_inactive", "no_next_step", "nobody_told")


@dataclass(frozen=True)
class Violation:
    case_id: int
    number: str
    status: str
    problems: tuple[str, ...]  # PROBLEMS entries


async def silent_cases(uow: UnitOfWork, scope: Scope | None = None, limit: int = 1000) -> list[Violation]:
    """Open cases (in scope, if given) that break the invariant, with what is missing."""
    found = []
    for case_id, number, status, owner_id, owner_active, next_due, told in await uow.cases.silent(
        scope, sorted(s.value for s in TIMED_STATUSES), limit
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
