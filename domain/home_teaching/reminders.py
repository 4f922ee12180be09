"""Reminders a home-teaching plan wants: a pure function of the plan, its sessions and the time.

In each period of the plan's cadence (week or month) that is still short of sessions, the plan's teachers
are reminded mid-period; a session logged before then drops the reminder (planning cancels it, the
sender's last check skips it). When a period ends short, the school's principals get an item in their
daily digest the next morning, with how many periods in a row were missed. Only the current period and
the one just ended are looked at, so a plan started long ago never floods anyone. Quiet hours, skipped
days and the digest apply as to every reminder (domain.reminders.planning.reconcile, domain.reminders.digest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from domain.home_teaching.plans import Period, counts, held_in, period_of, previous_period
from domain.people.roles import Role
from domain.policy import Policy
from domain.reminders.planning import PlanResult, base_key, reconcile
from domain.reminders.rules import HOME_TEACHING_DUE, HOME_TEACHING_MISSED, Wanted, channel_for
from storage import home_teaching as store
from storage.models import HomeTeachingPlan, Reminder
from storage.uow import UnitOfWork, UnitOfWorkFactory

KINDS = (HOME_TEACHING_DUE, HOME_TEACHING_MISSED)
MAX_STREAK = 12  # periods counted back for "missed N in a row"


@dataclass(frozen=True)
class PlanFacts:
    plan: HomeTeachingPlan
    days: Sequence[date]  # days sessions were held
    teachers: tuple[int, ...]  # active teachers of the plan
    principals: tuple[int, ...]
    roles: dict[int, str]


def _anchor(plan_id: int, period: Period) -> str:
    return f"ht{plan_id}@{period.starts_on.isoformat()}"


def _payload(plan: HomeTeachingPlan, period: Period, held: int) -> dict[str, object]:
    return {
        "plan": plan.id,
        "period_start": period.starts_on.isoformat(),
        "period_end": period.ends_on.isoformat(),
        "held": held,
        "planned": plan.sessions_per_period,
    }


def _streak(facts: PlanFacts, last: Period) -> int:
    plan, n, period = facts.plan, 0, last
    while n < MAX_STREAK and counts(plan, period) and held_in(facts.days, period) < plan.sessions_per_period:
        n += 1
        period = previous_period(period, plan.cadence)
    return n


def wanted_for_plan(facts: PlanFacts, policy: Policy, tz: ZoneInfo, now: datetime) -> list[Wanted]:
    plan = facts.plan
    if not plan.active:
        return []
    wanted: list[Wanted] = []
    today = now.astimezone(tz).date()
    current = period_of(today, plan.cadence)
    held = held_in(facts.days, current)
    if counts(plan, current) and held < plan.sessions_per_period:
        due = datetime.combine(max(current.remind_on, plan.starts_on), policy.reminders.time_of_day, tz)
        for staff_id in facts.teachers or facts.principals:  # no teacher left: the principal is told
            wanted.append(
                Wanted(
                    HOME_TEACHING_DUE,
                    None,
                    staff_id,
                    due.astimezone(UTC),
                    _anchor(plan.id, current),
                    channel_for(facts.roles.get(staff_id)),
                    _payload(plan, current, held),
                )
            )
    last = previous_period(current, plan.cadence)
    held_last = held_in(facts.days, last)
    if counts(plan, last) and held_last < plan.sessions_per_period:
        due = datetime.combine(current.starts_on, policy.reminders.time_of_day, tz)
        payload = {**_payload(plan, last, held_last), "streak": _streak(facts, last)}
        for staff_id in facts.principals:
            wanted.append(
                Wanted(
                    HOME_TEACHING_MISSED,
                    None,
                    staff_id,
                    due.astimezone(UTC),
                    _anchor(plan.id, last),
                    channel_for(facts.roles.get(staff_id)),
                    payload,
                )
            )
    return wanted


async def plan_facts(uow: UnitOfWork, plan: HomeTeachingPlan, tz: ZoneInfo, now: datetime) -> PlanFacts:
    today = now.astimezone(tz).date()
    earliest = period_of(today, plan.cadence)
    for _ in range(MAX_STREAK):
        earliest = previous_period(earliest, plan.cadence)
    days = await store.session_days(uow.session, plan.id, since=earliest.starts_on)
    teachers = []
    roles: dict[int, str] = {}
    for staff_id in plan.teacher_ids:
        staff = await uow.directory.staff(int(staff_id))
        if staff is not None and staff.active:
            teachers.append(staff.id)
            roles[staff.id] = staff.role
    student = await uow.students.get(plan.student_id)
    principals: tuple[int, ...] = ()
    if student is not None:
        principals = tuple(
            s.id for s in await uow.directory.staff_of_school(student.school_id, Role.PRINCIPAL) if s.active
        )
        if not student.active:
            return PlanFacts(plan, days, (), (), roles)  # left the school: nothing more is due
    roles.update(dict.fromkeys(principals, Role.PRINCIPAL.value))
    return PlanFacts(plan, days, tuple(teachers), principals, roles)


async def plan_home_teaching_reminders(
    uow: UnitOfWork, plan: HomeTeachingPlan, *, policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    """Reconciles one plan's pending reminders in the caller's transaction (after a save or a session)."""
    await uow.flush()
    wanted = wanted_for_plan(await plan_facts(uow, plan, tz, now), policy, tz, now)
    existing = await store.reminder_rows(uow.session, KINDS, plan.id)
    return await reconcile(uow, None, wanted, existing, now=now, policy=policy, tz=tz)


async def replan_home_teaching(
    uow_factory: UnitOfWorkFactory, policy: Policy, now: datetime, tz: ZoneInfo
) -> PlanResult:
    """Every plan, one transaction each (run on each scheduler tick: a county has a few dozen plans)."""
    async with uow_factory() as uow:
        plan_ids = await store.all_plan_ids(uow.session)
    total = PlanResult()
    for plan_id in plan_ids:
        async with uow_factory() as uow:
            plan = await store.plan(uow.session, plan_id)
            if plan is None:
                continue
            total += await plan_home_teaching_reminders(uow, plan, policy=policy, now=now, tz=tz)
            await uow.commit()
    return total


async def still_wanted_plan(
    uow: UnitOfWork, row: Reminder, policy: Policy, tz: ZoneInfo, now: datetime
) -> bool:
    """The sender's last check: a session logged since planning drops the reminder."""
    plan_id = (row.payload or {}).get("plan")
    plan = await store.plan(uow.session, int(plan_id)) if isinstance(plan_id, int) else None
    if plan is None:
        return False
    wanted = wanted_for_plan(await plan_facts(uow, plan, tz, now), policy, tz, now)
    return base_key(row) in {w.key for w in wanted}
