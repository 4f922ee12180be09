"""Reminder planning: the outbox rows a case should have, reconciled in the use case's own transaction.

Call `plan_case_reminders` at the end of every use case that changes a case (report_absence and
change_status do it already). It inserts the reminders the case now wants, moves pending ones whose due
time changed with the policy, and cancels pending ones no longer wanted (state "cancelled", never
deleted). Rows already claimed, sent, failed or unreachable are never touched, so nothing is sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Self
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from domain.casework.escalations import resolve_done
from domain.casework.ownership import ensure_owner
from domain.casework.steps import next_automatic, next_step, pending_steps
from domain.people.roles import Role
from domain.policy import Policy
from domain.reminders.facts import case_facts
from domain.reminders.quiet_hours import next_allowed
from domain.reminders.rules import (
    DIGEST,
    HOME_TEACHING_DUE,
    HOME_TEACHING_MISSED,
    MONTHLY_REPORT,
    Wanted,
    desired_reminders,
    monthly_report_due,
)
from domain.reminders.term_start import TERM_START, open_term, prompt_due, prompt_payload, prompt_still_open
from storage import outbox
from storage.models import Case, Reminder, Staff
from storage.scope import Scope
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    inserted: int = 0
    moved: int = 0
    cancelled: int = 0

    def __iadd__(self, other: PlanResult) -> Self:
        self.inserted += other.inserted
        self.moved += other.moved
        self.cancelled += other.cancelled
        return self


def base_key(row: Reminder) -> str:
    """The wanted reminder a row stands for: itself, or the one it was snoozed from or stands in for."""
    return str((row.payload or {}).get("base") or row.dedupe_key)


async def wanted_for_case(
    uow: UnitOfWork, case: Case, policy: Policy, tz: ZoneInfo, now: datetime
) -> list[Wanted]:
    return desired_reminders(await case_facts(uow, case, policy, tz), policy, tz, now)


async def still_wanted(uow: UnitOfWork, row: Reminder, policy: Policy, tz: ZoneInfo, now: datetime) -> bool:
    """Re-checks the case right before sending: e.g. a visit logged since planning drops the reminder
    even if the use case that logged it did not replan."""
    if row.kind in (HOME_TEACHING_DUE, HOME_TEACHING_MISSED):
        from domain.home_teaching.reminders import still_wanted_plan  # lazily: that module imports this one

        return await still_wanted_plan(uow, row, policy, tz, now)
    if row.kind == TERM_START:
        return prompt_still_open(row.payload or {}, policy, tz, now)
    if row.case_id is None or row.kind in (DIGEST, MONTHLY_REPORT):
        return True
    case = await uow.cases.get(row.case_id)
    if case is None:
        return False
    return base_key(row) in {w.key for w in await wanted_for_case(uow, case, policy, tz, now)}


async def reconcile(
    uow: UnitOfWork,
    case_id: int | None,
    wanted: list[Wanted],
    existing: list[Reminder],
    *,
    now: datetime,
    policy: Policy,
    tz: ZoneInfo,
    cancel_others: bool = True,
) -> PlanResult:
    """Makes the pending rows match `wanted` (see the module docstring)."""
    result = PlanResult()
    by_key = {r.dedupe_key: r for r in existing}
    for w in wanted:
        send_after = next_allowed(w.due_at, policy, tz)
        row = by_key.get(w.key)
        if row is None:
            inserted = await outbox.insert_once(
                uow.session,
                kind=w.kind,
                case_id=w.case_id,
                recipient_id=w.recipient_id,
                due_at=w.due_at,
                send_after=send_after,
                dedupe_key=w.key,
                channel=w.channel,
                payload=w.payload,
                created_at=now,
            )
            result.inserted += inserted
        elif row.state == outbox.CANCELLED or (
            row.state == outbox.PENDING
            and (
                row.due_at != w.due_at
                or row.send_after != send_after
                or row.payload != w.payload
                or row.channel != w.channel
            )
        ):
            moved = await outbox.change(
                uow.session,
                row.id,
                when_state=row.state,
                state=outbox.PENDING,
                due_at=w.due_at,
                send_after=send_after,
                payload=w.payload,
                channel=w.channel,
            )
            result.moved += moved
    if cancel_others:
        keys = {w.key for w in wanted}
        stale = [
            r.id
            for r in existing
            if r.state == outbox.PENDING and r.kind != DIGEST and base_key(r) not in keys
        ]
        result.cancelled = await outbox.change_many(
            uow.session, stale, when_state=outbox.PENDING, state=outbox.CANCELLED, last_error="no longer due"
        )
    return result


async def plan_case_reminders(
    uow: UnitOfWork, case: Case, *, policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    """Keeps the case owned and timed, in the caller's transaction: replaces an owner who left, records
    its next step (the columns the dashboard filters on), closes escalations whose step is done, and
    reconciles its pending reminders with what it wants now."""
    await uow.flush()
    await ensure_owner(uow, case, now)
    facts = await case_facts(uow, case, policy, tz)
    steps = pending_steps(facts, policy, tz)
    step, auto = next_step(steps), next_automatic(steps)
    case.next_step, case.next_step_due_at = (step.kind, step.due_at) if step else (None, None)
    case.auto_step, case.auto_step_due_at = (auto.kind, auto.due_at) if auto else (None, None)
    await resolve_done(uow, case.id, {s.identity for s in steps}, now)
    wanted = desired_reminders(facts, policy, tz, now)
    existing = list(await outbox.rows_of_case(uow.session, case.id))
    return await reconcile(uow, case.id, wanted, existing, now=now, policy=policy, tz=tz)


async def replan_all(
    uow_factory: UnitOfWorkFactory, policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    """Recomputes pending reminders of every open case (run at scheduler start, so an edited policy
    file takes effect on restart), one transaction per case; sent reminders are left alone."""
    async with uow_factory() as uow:
        case_ids = await outbox.case_ids_to_plan(uow.session)
    total = await _replan(uow_factory, case_ids, policy, now, tz)
    async with uow_factory() as uow:
        total += await plan_monthly_reports(uow, policy=policy, now=now, tz=tz)
        total += await plan_term_start_prompts(uow, policy=policy, now=now, tz=tz)
        await uow.commit()
    log.info("reminders replanned: %s", total)
    return total


async def replan_changed(
    uow_factory: UnitOfWorkFactory, policy: Policy, now: datetime, tz: ZoneInfo, *, since: datetime
) -> PlanResult:
    """Replans cases changed since `since`: a safety net for changes made without planning (e.g. a
    reclassification on the dashboard); planning twice is harmless."""
    async with uow_factory() as uow:
        case_ids = await outbox.case_ids_updated_since(uow.session, since)
    return await _replan(uow_factory, case_ids, policy, now, tz)


async def replan_cases(
    uow_factory: UnitOfWorkFactory, case_ids: list[int], policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    """Replans the given cases, one transaction each (e.g. those whose reminders were just sent)."""
    return await _replan(uow_factory, case_ids, policy, now, tz)


async def _replan(
    uow_factory: UnitOfWorkFactory, case_ids: list[int], policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    total = PlanResult()
    for case_id in case_ids:
        try:
            async with uow_factory() as uow:
                case = await uow.cases.get(case_id)
                if case is None:
                    continue
                total += await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
                await uow.commit()
        except (DBAPIError, StaleDataError) as exc:  # a concurrent writer; the next run catches up
            log.warning("could not replan reminders of case %s: %s", case_id, type(exc).__name__)
    return total


def _months(today: date) -> list[tuple[int, int]]:
    """Last month (its report falls due early this month) and this month."""
    previous = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    return [previous, (today.year, today.month)]


async def plan_monthly_reports(uow: UnitOfWork, *, policy: Policy, now: datetime, tz: ZoneInfo) -> PlanResult:
    """一月一报告: one reminder per principal for last month's report (unless already past) and this month's."""
    result = PlanResult()
    principals = [s for s in await uow.directory.all_staff() if s.active and s.role == Role.PRINCIPAL]
    for year, month in _months(now.astimezone(tz).date()):
        due = monthly_report_due(year, month, policy, tz)
        if due < now and (year, month) == _months(now.astimezone(tz).date())[0]:
            continue  # first start after the day: do not chase a report already due
        for principal in principals:
            w = Wanted(
                MONTHLY_REPORT,
                None,
                principal.id,
                due,
                f"{year:04d}-{month:02d}",
                "digest",
                {"month": f"{year:04d}-{month:02d}"},
            )
            existing = await outbox.by_key(uow.session, w.key)
            part = await reconcile(
                uow,
                None,
                [w],
                [existing] if existing else [],
                now=now,
                policy=policy,
                tz=tz,
                cancel_others=False,
            )
            result += part
    return result


async def plan_term_start_prompts(
    uow: UnitOfWork, *, policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    """开学点名: one direct prompt per active class teacher per term, due on the term's first school day;
    none once the roll-call window is over. Keyed by term and teacher, so re-planning never resends."""
    result = PlanResult()
    today = now.astimezone(tz).date()
    found = open_term(policy, today)
    if found is None:
        return result
    term, days = found
    due = prompt_due(policy, days, today, tz)
    payload = prompt_payload(term, days, policy)
    teachers = [s for s in await uow.directory.all_staff() if s.active and s.role == Role.CLASS_TEACHER]
    for teacher in teachers:
        w = Wanted(TERM_START, None, teacher.id, due, term.starts_on.isoformat(), "direct", payload)
        existing = await outbox.by_key(uow.session, w.key)
        result += await reconcile(
            uow, None, [w], [existing] if existing else [], now=now, policy=policy, tz=tz, cancel_others=False
        )
    return result


@dataclass(frozen=True)
class LogEntry:
    """One line of the reminders log, for the dashboard."""

    reminder: Reminder
    recipient: Staff
    case: Case | None


async def reminder_log(
    uow: UnitOfWork,
    scope: Scope,
    *,
    case_id: int | None = None,
    states: list[str] | None = None,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[LogEntry]:
    """Every reminder about cases in scope or addressed to the person: sent, failed, cancelled, ..."""
    rows = await outbox.log(
        uow.session, scope, case_id=case_id, states=states, kinds=kinds, since=since, limit=limit
    )
    return [LogEntry(r, s, c) for r, s, c in rows]
