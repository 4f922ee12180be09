"""A person's open cases, most urgent first, each with its next deadline and possible next actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.lifecycle import VISITABLE, CaseStatus
from domain.policy import Policy
from domain.returns import is_returnable
from storage.models import Case
from storage.scope import Scope
from storage.uow import UnitOfWork

# Deadline columns a case may carry, in the order they are named to the user.
DEADLINES = ("visit", "verification", "return")
MAX_LISTED = 500


@dataclass(frozen=True)
class CaseItem:
    """One line of the list: the case, its most pressing deadline (if any) and what can be done next."""

    case: Case
    deadline: str | None  # visit | verification | return | retention
    due_at: datetime | None
    overdue: bool
    can_visit: bool
    can_return: bool


def next_deadline(case: Case, policy: Policy, tz: ZoneInfo, now: datetime) -> tuple[str, datetime] | None:
    """The earliest pending deadline of the case; in retention, the next follow-up check."""
    pending = [
        (kind, due)
        for kind, due in zip(
            DEADLINES, (case.visit_due_at, case.verification_due_at, case.return_due_at), strict=True
        )
        if due is not None
    ]
    if case.status == CaseStatus.RETENTION and case.returned_on is not None:
        start = datetime.combine(case.returned_on, datetime.min.time(), tz)
        checks = [start + delta for delta in policy.retention_checks]
        upcoming = [due for due in checks if due + timedelta(days=1) > now]  # due today counts as pending
        if upcoming:
            pending.append(("retention", upcoming[0]))
    return min(pending, key=lambda item: item[1]) if pending else None


def _urgency(item: CaseItem) -> tuple[float, float, int]:
    due = item.due_at.timestamp() if item.due_at else float("inf")
    return (due, item.case.opened_at.timestamp(), item.case.id)


async def my_open_cases(
    uow: UnitOfWork, scope: Scope, *, now: datetime, policy: Policy, tz: ZoneInfo
) -> list[CaseItem]:
    """Open cases in the person's scope (incl. those they are responsible for), most urgent first."""
    items = []
    for case in await uow.cases.open_in_scope(scope, limit=MAX_LISTED):
        deadline = next_deadline(case, policy, tz, now)
        items.append(
            CaseItem(
                case=case,
                deadline=deadline[0] if deadline else None,
                due_at=deadline[1] if deadline else None,
                # A retention check is a day, not a moment: it is never shown as overdue on its own day.
                overdue=deadline is not None and deadline[0] != "retention" and deadline[1] < now,
                can_visit=CaseStatus(case.status) in VISITABLE,
                can_return=is_returnable(case),
            )
        )
    return sorted(items, key=_urgency)
