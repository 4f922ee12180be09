"""What a person can do from a reminder: postpone it to tomorrow (at most twice), or record a retention
check (the last one passing closes the case: 销号; a failed one is a relapse back to "absent")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from domain.audit import Actor, audit
from domain.casework.cases import add_event, case_in_scope, change_status
from domain.casework.lifecycle import CaseStatus
from domain.casework.steps import NEXT_VISIT, PERSUADE, PROMISE_CHECK, RECHECK_VISIT, pending_steps
from domain.errors import DomainError, InvalidInput, NotFound, NotInScope
from domain.policy import Policy
from domain.reminders.facts import case_facts
from domain.reminders.planning import base_key, plan_case_reminders, still_wanted
from domain.reminders.quiet_hours import next_allowed
from domain.reminders.rules import RETENTION_CHECK, RETURN_CHECK, VISIT_DUE, snooze_key
from storage import outbox
from storage.models import CaseEvent, Reminder
from storage.scope import Scope
from storage.uow import UnitOfWork

# The owner's own steps (a visit, a check): "remind me tomorrow" is offered on those.
SNOOZABLE = frozenset(
    {VISIT_DUE, NEXT_VISIT, PERSUADE, PROMISE_CHECK, RECHECK_VISIT, RETURN_CHECK, RETENTION_CHECK}
)
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


class SnoozeRefused(DomainError):
    """The reminder cannot be postponed: `reason` is limit | already | gone."""

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


async def own_reminder(uow: UnitOfWork, actor: Actor, reminder_id: int, now: datetime) -> Reminder:
    """The reminder, if it was addressed to the actor; anything else is refused and audited."""
    row = await outbox.get(uow.session, reminder_id)
    if row is None:
        raise NotFound(f"reminder {reminder_id}")
    if row.recipient_id != actor.staff_id:
        audit(uow, actor, now, "denied", "reminder", reminder_id)
        raise NotInScope(f"reminder {reminder_id}")
    return row


async def snooze_reminder(
    uow: UnitOfWork, actor: Actor, reminder_id: int, *, now: datetime, policy: Policy, tz: ZoneInfo
) -> Reminder:
    """ "Remind me tomorrow": a new reminder for the same deadline, snooze_by later; recorded in the
    case timeline and the audit log. Refused after max_snoozes, for a second tap, or when no longer due."""
    row = await own_reminder(uow, actor, reminder_id, now)
    if (
        row.kind not in SNOOZABLE
        or row.state != outbox.SENT
        or not await still_wanted(uow, row, policy, tz, now)
    ):
        raise SnoozeRefused("gone")
    if row.snoozes >= policy.reminders.max_snoozes:
        raise SnoozeRefused("limit", max=policy.reminders.max_snoozes)
    key = snooze_key(base_key(row), row.snoozes + 1)
    if (earlier := await outbox.by_key(uow.session, key)) is not None:
        raise SnoozeRefused("already", until=earlier.due_at)
    due = now + policy.reminders.snooze_by
    await outbox.insert_once(
        uow.session,
        kind=row.kind,
        case_id=row.case_id,
        recipient_id=row.recipient_id,
        due_at=due,
        send_after=next_allowed(due, policy, tz),
        dedupe_key=key,
        channel=row.channel,
        snoozes=row.snoozes + 1,
        payload={**(row.payload or {}), "base": base_key(row), "snoozed_from": row.id},
        created_at=now,
    )
    again = await outbox.by_key(uow.session, key)
    assert again is not None
    case = await uow.cases.get(row.case_id) if row.case_id is not None else None
    if case is not None:
        add_event(
            uow,
            case,
            "reminder_snoozed",
            actor,
            now,
            reminder_id=row.id,
            new_reminder_id=again.id,
            until=again.send_after.isoformat(),
            snoozes=again.snoozes,
        )
    audit(
        uow,
        actor,
        now,
        "snooze",
        "reminder",
        row.id,
        until=again.send_after.isoformat(),
        snoozes=again.snoozes,
    )
    await uow.flush()
    return again


async def record_retention_check(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    case_id: int,
    ok: bool,
    now: datetime,
    policy: Policy,
    *,
    tz: ZoneInfo = DEFAULT_TZ,
    check: int | None = None,
) -> CaseEvent:
    """Records the next retention check (保学跟踪回访). The last one passing proposes closing (销号),
    which a principal or township officer approves (domain.casework.decisions): a teacher's tap never closes a
    case. A failed one is a relapse: the case goes back to "absent" and a new first visit is due.
    `check` (from a reminder button) makes a repeated tap harmless."""
    case = await case_in_scope(uow, scope, actor, case_id, now)
    if case.status != CaseStatus.RETENTION or case.returned_on is None:
        raise InvalidInput("not_in_retention", number=case.number, status=case.status)
    facts = await case_facts(uow, case, policy, tz)
    pending = next((s for s in pending_steps(facts, policy, tz) if s.kind == RETENTION_CHECK), None)
    number = facts.retention_checks_done + 1
    if pending is None or (check is not None and check < number):
        raise InvalidInput("retention_already_recorded", check=check or facts.retention_checks_done)
    total = len(policy.retention_checks) + len(facts.reworks)
    day = (pending.remind_at or pending.due_at).astimezone(tz).date()
    if now.astimezone(tz).date() < day:
        raise InvalidInput("retention_check_not_due", check=number, day=day.isoformat())
    event = add_event(uow, case, "retention_check", actor, now, check=number, of=total, ok=ok)
    audit(uow, actor, now, "update", "case", case.id, retention_check=number, ok=ok)
    if not ok:
        case.visit_due_at = policy.visit_due(now)
        await change_status(
            uow,
            case,
            CaseStatus.ABSENT,
            actor,
            now=now,
            kind="relapse",
            policy=policy,
            tz=tz,
            retention_check=number,
        )
    else:
        if number >= total:
            add_event(uow, case, "closing_proposed", actor, now, retention_checks=total)
        case.updated_at = now
        await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    await uow.flush()
    return event
