"""A coordinator's to-do list: escalations nobody has taken on, those taken on and still open, closings
awaiting approval, and cases that have gone silent (expected empty: domain.casework.invariant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.casework.invariant import Violation, silent_cases
from domain.casework.steps import APPROVE_CLOSING
from storage.models import Case, Escalation
from storage.scope import Scope
from storage.uow import UnitOfWork

MAX_LISTED = 200


@dataclass(frozen=True)
class EscalationItem:
    escalation: Escalation
    case: Case
    acknowledged_by: str | None


@dataclass(frozen=True)
class ToDo:
    unacknowledged: list[EscalationItem]
    acknowledged: list[EscalationItem]
    to_approve: list[Case]
    silent: list[Violation]

    @property
    def total(self) -> int:
        return len(self.unacknowledged) + len(self.to_approve) + len(self.silent)


async def _items(uow: UnitOfWork, scope: Scope, acknowledged: bool) -> list[EscalationItem]:
    rows = await uow.escalations.open_in_scope(scope, acknowledged=acknowledged, limit=MAX_LISTED)
    names = {s.id: s.name for s in await uow.directory.all_staff()} if acknowledged else {}
    return [EscalationItem(e, c, names.get(e.acknowledged_by_id or 0)) for e, c in rows]


async def todo(uow: UnitOfWork, scope: Scope, now: datetime) -> ToDo:
    """Everything in the person's area that waits for a coordinator."""
    to_approve = list(await uow.cases.waiting_for(scope, APPROVE_CLOSING, limit=MAX_LISTED))
    return ToDo(
        unacknowledged=await _items(uow, scope, acknowledged=False),
        acknowledged=await _items(uow, scope, acknowledged=True),
        to_approve=to_approve,
        silent=await silent_cases(uow, scope, limit=MAX_LISTED),
    )
