"""Escalations that someone acknowledges: a missed step told to the level above climbs one level at a
time (domain.reminders.rules) until a coordinator in scope answers "我来跟进 / I'll handle it"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.steps import LEVELS
from domain.errors import DomainError, NotFound, NotInScope
from domain.people.roles import COORDINATOR_ROLES, Role
from domain.policy import Policy
from storage.models import Case, Escalation, Reminder, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork


class AlreadyAcknowledged(DomainError):
    """Someone else (or the same person, tapping twice) acknowledged it first; nothing changed."""

    def __init__(self, escalation: Escalation, by: Staff | None) -> None:
        super().__init__(f"escalation {escalation.id} already acknowledged")
        self.escalation, self.by = escalation, by


class EscalationClosed(DomainError):
    """The missed step has been done meanwhile: nothing left to acknowledge."""


def _higher(a: str, b: str) -> str:
    rank = {role: i for i, role in enumerate(LEVELS)}
    return a if rank.get(a, 0) >= rank.get(b, 0) else b


async def raise_for(uow: UnitOfWork, row: Reminder, now: datetime) -> Escalation | None:
    """The escalation an "overdue" reminder is about, created the first time one is delivered (raised)
    and moved up to the reminder's level; None for other reminders."""
    payload = row.payload or {}
    if row.case_id is None or payload.get("step") is None or payload.get("anchor") is None:
        return None
    step, anchor, level = (
        str(payload["step"]),
        str(payload["anchor"]),
        str(payload.get("level") or "principal"),
    )
    found = await uow.escalations.find(row.case_id, step, anchor)
    if found is None:
        found = Escalation(case_id=row.case_id, step=step, anchor=anchor, level=level, raised_at=now)
        uow.session.add(found)
        await uow.flush()
    else:
        found.level = _higher(found.level, level)
    return found


async def resolve_done(uow: UnitOfWork, case_id: int, open_steps: Iterable[str], now: datetime) -> None:
    """Closes the case's escalations whose step is no longer pending (`open_steps`: step identities)."""
    still = set(open_steps)
    for escalation in await uow.escalations.of_case(case_id):
        if escalation.resolved_at is None and f"{escalation.step}@{escalation.anchor}" not in still:
            escalation.resolved_at = now


@dataclass(frozen=True)
class Acknowledged:
    escalation: Escalation
    case: Case


async def acknowledge(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    staff: Staff,
    escalation_id: int,
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
) -> Acknowledged:
    """ "我来跟进": the coordinator takes the escalation on; it stops climbing, they are reminded to
    follow it up, and the timeline says who took it and when. Raises NotInScope (audited) outside their
    area, AlreadyAcknowledged when someone was first, EscalationClosed when the step is done."""
    # Imported here: the case use cases and the planner import this module.
    from domain.casework.cases import add_event, case_in_scope
    from domain.reminders.planning import plan_case_reminders

    escalation = await uow.escalations.get(escalation_id)
    if escalation is None:
        raise NotFound(f"escalation {escalation_id}")
    if Role(staff.role) not in COORDINATOR_ROLES:
        audit(uow, actor, now, "denied", "escalation", escalation_id)
        raise NotInScope(f"escalation {escalation_id}")
    case = await case_in_scope(uow, scope, actor, escalation.case_id, now)
    if escalation.acknowledged_by_id is not None:
        raise AlreadyAcknowledged(escalation, await uow.directory.staff(escalation.acknowledged_by_id))
    if escalation.resolved_at is not None:
        raise EscalationClosed(f"escalation {escalation_id}")
    escalation.acknowledged_by_id, escalation.acknowledged_at = staff.id, now
    add_event(
        uow,
        case,
        "escalation_acknowledged",
        actor,
        now,
        step=escalation.step,
        level=escalation.level,
        escalation_id=escalation.id,
    )
    audit(uow, actor, now, "acknowledge", "escalation", escalation.id, case=case.id)
    await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return Acknowledged(escalation, case)
