"""Counts behind the overview, grouped by the pupil's (school, home village), and stored overview snapshots.

The same four queries serve a live overview (filtered to one person's scope) and the snapshot builder
(unfiltered, one pass over the province); domain.reports.tally adds the rows up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, CaseEvent, OverviewSnapshot, Student
from storage.reporting import OverdueRules, overdue_clause
from storage.repositories import _student_in_scope
from storage.scope import Scope

CHUNK = 5_000


def pupils_in(scope: Scope) -> ColumnElement[bool] | None:
    """Cases and pupils in scope by where the pupil is (None: everything)."""
    return None if scope.everything else _student_in_scope(scope)


def responsible_outside(scope: Scope) -> ColumnElement[bool] | None:
    """Cases the person is responsible for whose pupil is outside their scope (None: there are none)."""
    if scope.everything or scope.staff_id is None:
        return None
    mine = or_(Case.responsible_teacher_id == scope.staff_id, Case.responsible_cadre_id == scope.staff_id)
    return and_(mine, not_(_student_in_scope(scope)))


def _where(q: Select[*tuple[Any, ...]], where: ColumnElement[bool] | None) -> Select[*tuple[Any, ...]]:
    return q if where is None else q.where(where)


async def _stream(session: AsyncSession, q: Select[Any]) -> AsyncIterator[Any]:
    result = await session.stream(q.execution_options(yield_per=CHUNK))
    async for partition in result.partitions(CHUNK):
        for row in partition:
            yield row


def case_counts(
    session: AsyncSession, where: ColumnElement[bool] | None, now: datetime, rules: OverdueRules
) -> AsyncIterator[Any]:
    """(school, village, status, scheme, code, cases, cases of active pupils, overdue cases, case kind)
    per group; the school is None for children on no school roll (失学)."""
    q = (
        select(
            Student.school_id,
            Student.home_village_id,
            Case.status,
            Case.category_scheme,
            Case.category_code,
            func.count(Case.id),
            func.sum(case((Student.active.is_(True), 1), else_=0)),
            func.sum(case((overdue_clause(now, rules), 1), else_=0)),
            Case.kind,
        )
        .select_from(Case)
        .join(Student, Student.id == Case.student_id)
        .group_by(
            Student.school_id,
            Student.home_village_id,
            Case.status,
            Case.category_scheme,
            Case.category_code,
            Case.kind,
        )
    )
    return _stream(session, _where(q, where))


def enrolled_counts(session: AsyncSession, where: ColumnElement[bool] | None) -> AsyncIterator[Any]:
    """(school, village, active pupils on a school roll) per group (a 失学 child is on none)."""
    q = (
        select(Student.school_id, Student.home_village_id, func.count(Student.id))
        .where(Student.active.is_(True), Student.school_id.is_not(None))
        .group_by(Student.school_id, Student.home_village_id)
    )
    return _stream(session, _where(q, where))


def opened_since(
    session: AsyncSession, where: ColumnElement[bool] | None, since: datetime
) -> AsyncIterator[Any]:
    """(school, village, opened_at) of every case opened since `since`."""
    q = (
        select(Student.school_id, Student.home_village_id, Case.opened_at)
        .select_from(Case)
        .join(Student, Student.id == Case.student_id)
        .where(Case.opened_at >= since)
    )
    return _stream(session, _where(q, where))


def moved_since(
    session: AsyncSession, where: ColumnElement[bool] | None, status: str, since: datetime
) -> AsyncIterator[Any]:
    """(school, village, occurred_at) of every move into `status` since `since`."""
    q = (
        select(Student.school_id, Student.home_village_id, CaseEvent.occurred_at)
        .select_from(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .join(Student, Student.id == Case.student_id)
        .where(CaseEvent.to_status == status, CaseEvent.occurred_at >= since)
    )
    return _stream(session, _where(q, where))


async def snapshot(session: AsyncSession, scope_key: str) -> OverviewSnapshot | None:
    return await session.get(OverviewSnapshot, scope_key)


async def replace_snapshots(session: AsyncSession, rows: Collection[OverviewSnapshot]) -> None:
    """Stores these snapshots and drops every other (a scope that became small goes back to live)."""
    await session.execute(delete(OverviewSnapshot))
    session.add_all(rows)
    await session.flush()


async def snapshot_keys(session: AsyncSession) -> Sequence[str]:
    return (
        await session.scalars(select(OverviewSnapshot.scope_key).order_by(OverviewSnapshot.scope_key))
    ).all()
