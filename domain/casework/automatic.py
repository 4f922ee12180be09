"""What the system does by itself when a time comes: an absence still unexplained after a number of
school days becomes a suspected dropout (and the 15-day rule applies); a notice not followed by a return
within a week escalates the case (001_66f255ef30f14f7a.txt: 一周内仍不送学生复学的，学校要上报); a deferral
that ends sends the case back to verification. Run by the leading scheduler on every tick."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from domain.audit import Actor
from domain.casework.cases import change_status
from domain.casework.lifecycle import CaseStatus
from domain.casework.steps import DEFERRAL_EXPIRES, NOTICE_EXPIRES, PROMOTE, next_automatic, pending_steps
from domain.policy import Policy
from domain.reminders.facts import case_facts
from domain.reminders.planning import plan_case_reminders
from storage.models import Case
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
SYSTEM = Actor.system("deadlines")
BATCH = 500


async def apply_automatic_step(
    uow: UnitOfWork, case: Case, *, now: datetime, policy: Policy, tz: ZoneInfo
) -> bool:
    """Carries out the case's automatic step if it is due; True when the case moved. Always replans."""
    facts = await case_facts(uow, case, policy, tz)
    step = next_automatic(pending_steps(facts, policy, tz))
    moved = step is not None and step.due_at <= now
    if step is not None and moved:
        if step.kind == PROMOTE:
            case.verification_due_at = policy.verification_due(now, tz)
            await change_status(
                uow,
                case,
                CaseStatus.SUSPECTED,
                SYSTEM,
                now=now,
                kind="promoted",
                school_days=policy.steps.promote_after_school_days,
            )
        elif step.kind == NOTICE_EXPIRES:
            await change_status(
                uow,
                case,
                CaseStatus.ESCALATED,
                SYSTEM,
                now=now,
                kind="notice_expired",
                return_due=step.due_at.astimezone(tz).date().isoformat(),
            )
        elif step.kind == DEFERRAL_EXPIRES:
            await change_status(
                uow, case, CaseStatus.VERIFYING, SYSTEM, now=now, kind="deferral_ended", until=step.anchor
            )
    await plan_case_reminders(uow, case, policy=policy, now=now, tz=tz)
    return moved


async def apply_due(uow_factory: UnitOfWorkFactory, *, now: datetime, policy: Policy, tz: ZoneInfo) -> int:
    """Every case whose automatic step is due, one transaction each; returns how many moved."""
    async with uow_factory() as uow:
        ids = await uow.cases.automatic_due(now, limit=BATCH)
    moved = 0
    for case_id in ids:
        try:
            async with uow_factory() as uow:
                case = await uow.cases.get(case_id)
                if case is None:
                    continue
                moved += await apply_automatic_step(uow, case, now=now, policy=policy, tz=tz)
                await uow.commit()
        except (DBAPIError, StaleDataError) as exc:  # a concurrent writer; the next tick tries again
            log.info("automatic step of case %s not applied this time: %s", case_id, type(exc).__name__)
    return moved
