"""A person's open cases, most urgent first, each with its next step and possible next actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.casework.lifecycle import VISITABLE, CaseStatus
from domain.casework.returns import is_returnable
from domain.policy import Policy
from domain.reports.stats import is_overdue
from storage.models import Case
from storage.scope import Scope
from storage.uow import UnitOfWork

MAX_LISTED = 500


@dataclass(frozen=True)
class CaseItem:
    """One line of the list: the case, its next step (if any) and what can be done next."""

    case: Case
    deadline: str | None  # the next step's kind (domain.casework.steps)
    due_at: datetime | None
    overdue: bool
    can_visit: bool
    can_return: bool


def _urgency(item: CaseItem) -> tuple[float, float, int]:
    due = item.due_at.timestamp() if item.due_at else float("inf")
    return (due, item.case.opened_at.timestamp(), item.case.id)


async def my_open_cases(
    uow: UnitOfWork, scope: Scope, *, now: datetime, policy: Policy, tz: ZoneInfo
) -> list[CaseItem]:
    """Open cases in the person's scope (incl. those they are responsible for), most urgent first; the
    next step and "overdue" are the case's own (the dashboard counts the same)."""
    items = [
        CaseItem(
            case=case,
            deadline=case.next_step,
            due_at=case.next_step_due_at,
            overdue=is_overdue(case, now),
            can_visit=CaseStatus(case.status) in VISITABLE,
            can_return=is_returnable(case),
        )
        for case in await uow.cases.open_in_scope(scope, limit=MAX_LISTED)
    ]
    return sorted(items, key=_urgency)
