"""Queries of home-teaching plans and sessions (送教上门, migration 0017)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import HomeTeachingPlan, HomeTeachingSession, Reminder, Student
from storage.repositories import _student_in_scope
from storage.scope import Scope


async def plan(session: AsyncSession, plan_id: int) -> HomeTeachingPlan | None:
    return await session.get(HomeTeachingPlan, plan_id)


async def plan_of_student(session: AsyncSession, student_id: int) -> HomeTeachingPlan | None:
    return await session.scalar(select(HomeTeachingPlan).where(HomeTeachingPlan.student_id == student_id))


async def all_plan_ids(session: AsyncSession) -> list[int]:
    return list((await session.scalars(select(HomeTeachingPlan.id).order_by(HomeTeachingPlan.id))).all())


async def active_plans_with_students(session: AsyncSession) -> list[tuple[HomeTeachingPlan, Student]]:
    q = (
        select(HomeTeachingPlan, Student)
        .join(Student, Student.id == HomeTeachingPlan.student_id)
        .where(HomeTeachingPlan.active.is_(True))
        .order_by(HomeTeachingPlan.id)
    )
    return [(p, s) for p, s in (await session.execute(q)).all()]


async def plans_in_scope(session: AsyncSession, scope: Scope) -> list[tuple[HomeTeachingPlan, Student]]:
    q = select(HomeTeachingPlan, Student).join(Student, Student.id == HomeTeachingPlan.student_id)
    if not scope.everything:
        q = q.where(_student_in_scope(scope))
    q = q.order_by(Student.school_id, Student.class_id, Student.name, HomeTeachingPlan.id)
    return [(p, s) for p, s in (await session.execute(q)).all()]


async def session_days(session: AsyncSession, plan_id: int, since: date | None = None) -> list[date]:
    q = select(HomeTeachingSession.held_on).where(HomeTeachingSession.plan_id == plan_id)
    if since is not None:
        q = q.where(HomeTeachingSession.held_on >= since)
    return list((await session.scalars(q)).all())


async def sessions_of_plans(
    session: AsyncSession, plan_ids: Iterable[int]
) -> dict[int, list[HomeTeachingSession]]:
    ids = list(plan_ids)
    found: dict[int, list[HomeTeachingSession]] = {i: [] for i in ids}
    if not ids:
        return found
    q = (
        select(HomeTeachingSession)
        .where(HomeTeachingSession.plan_id.in_(ids))
        .order_by(HomeTeachingSession.held_on, HomeTeachingSession.id)
    )
    for row in (await session.scalars(q)).all():
        found[row.plan_id].append(row)
    return found


async def reminder_rows(session: AsyncSession, kinds: Sequence[str], plan_id: int) -> list[Reminder]:
    """The outbox rows of one plan (their keys carry the plan: `kind:-:ht<id>@<period>:<recipient>`)."""
    q = select(Reminder).where(
        Reminder.kind.in_(list(kinds)),
        Reminder.case_id.is_(None),
        Reminder.dedupe_key.like(f"%:-:ht{plan_id}@%"),
    )
    return list((await session.scalars(q)).all())
