"""Queries of the ledger of school-age children (适龄儿童台账): the latest saved cross-check of each county,
and its children with what the status of each is derived from (domain.school_age.status): the bucket, the case
that speaks for the child now and whether a home-teaching plan runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, CrosscheckChild, CrosscheckRun, HomeTeachingPlan, Student
from storage.scope import Scope

CHUNK = 1000  # rows fetched at a time when the list is streamed


@dataclass(frozen=True, slots=True)
class LatestRun:
    id: int
    county_id: int
    created_at: datetime
    cutoff: date


@dataclass(frozen=True, slots=True)
class StatusInputs:
    """What a child's status is derived from (domain.school_age.status.child_status)."""

    bucket: str
    case_status: str | None
    case_scheme: str | None
    case_code: str | None
    home_teaching: bool


@dataclass(frozen=True, slots=True)
class StatusGroup:
    """How many children of one run and village share the same status inputs."""

    run_id: int
    village_id: int | None
    inputs: StatusInputs
    children: int


@dataclass(frozen=True, slots=True)
class ChildRow:
    run_id: int
    key: str
    village_id: int | None
    inputs: StatusInputs
    name: str
    sex: str | None
    birth_date: date | None
    national_id: str | None
    school_id: int | None
    school_label: str | None
    student_number: str | None
    poverty: bool
    disability: str | None
    case_number: str | None


async def latest_runs(session: AsyncSession, county_ids: Collection[int] | None) -> list[LatestRun]:
    """The newest saved cross-check of each county (of those listed; every county when None)."""
    q = select(CrosscheckRun.id, CrosscheckRun.area_id, CrosscheckRun.created_at, CrosscheckRun.cutoff)
    if county_ids is not None:
        q = q.where(CrosscheckRun.area_id.in_(sorted(county_ids)))
    latest: dict[int, LatestRun] = {}
    for run_id, county_id, created_at, cutoff in (await session.execute(q)).all():
        known = latest.get(county_id)
        if known is None or (created_at, run_id) > (known.created_at, known.id):
            latest[county_id] = LatestRun(run_id, county_id, created_at, cutoff)
    return sorted(latest.values(), key=lambda r: r.county_id)


def _visible(scope: Scope, runs: Sequence[LatestRun]) -> Any:
    """Which children of the runs a person sees. Officers and village cadres see the children living in
    their villages; an officer whose area is the run's county also those not placed in a village yet.
    A principal sees the children of their school (the school of record, or the roster pupil's). A
    teacher sees none (the ledger is the coordinators')."""
    run_ids = [r.id for r in runs]
    if scope.everything:
        return CrosscheckChild.run_id.in_(run_ids)
    clauses: list[ColumnElement[bool]] = []
    if scope.village_ids:
        clauses.append(CrosscheckChild.village_id.in_(sorted(scope.village_ids)))
    if scope.school_ids and not scope.area_ids:
        schools = sorted(scope.school_ids)
        on_roll = select(Student.id).where(Student.school_id.in_(schools))
        clauses.append(or_(CrosscheckChild.school_id.in_(schools), CrosscheckChild.student_id.in_(on_roll)))
    whole = [r.id for r in runs if r.county_id in scope.area_ids]
    if whole:
        clauses.append(and_(CrosscheckChild.village_id.is_(None), CrosscheckChild.run_id.in_(whole)))
    return and_(CrosscheckChild.run_id.in_(run_ids), or_(*clauses) if clauses else false())


_CHILD_COLUMNS = (
    CrosscheckChild.id,
    CrosscheckChild.run_id,
    CrosscheckChild.key,
    CrosscheckChild.village_id,
    CrosscheckChild.bucket,
    CrosscheckChild.name,
    CrosscheckChild.sex,
    CrosscheckChild.birth_date,
    CrosscheckChild.national_id,
    CrosscheckChild.school_id,
    CrosscheckChild.school_label,
    CrosscheckChild.student_number,
    CrosscheckChild.student_id,
    CrosscheckChild.poverty,
    CrosscheckChild.disability,
)


def _children(scope: Scope, runs: Sequence[LatestRun], as_of: date) -> Any:
    """The visible school-age children (out_of_range left out) with their status inputs, as a subquery.
    The case that speaks for a child: the roster pupil's open case, else the case the cross-check's
    decision opened or joined, else the pupil's latest (closed) case."""
    open_case = (
        select(Case.id)
        .where(Case.student_id == CrosscheckChild.student_id, Case.status != "closed")
        .order_by(Case.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    last_case = (
        select(Case.id)
        .where(Case.student_id == CrosscheckChild.student_id)
        .order_by(Case.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    base = (
        select(
            *_CHILD_COLUMNS,
            func.coalesce(open_case, CrosscheckChild.case_id, last_case).label("current_case_id"),
        )
        .where(_visible(scope, runs), CrosscheckChild.bucket != "out_of_range")
        .subquery()
    )
    pupil = func.coalesce(base.c.student_id, Case.student_id)
    teaching = exists(
        select(HomeTeachingPlan.id).where(
            HomeTeachingPlan.student_id == pupil,
            HomeTeachingPlan.active.is_(True),
            HomeTeachingPlan.starts_on <= as_of,
            or_(HomeTeachingPlan.ends_on.is_(None), HomeTeachingPlan.ends_on >= as_of),
        )
    )
    return (
        select(
            base,
            Case.status.label("case_status"),
            Case.category_scheme.label("case_scheme"),
            Case.category_code.label("case_code"),
            Case.number.label("case_number"),
            teaching.label("home_teaching"),
        )
        .outerjoin(Case, Case.id == base.c.current_case_id)
        .subquery()
    )


def _inputs(row: Any) -> StatusInputs:
    return StatusInputs(row.bucket, row.case_status, row.case_scheme, row.case_code, bool(row.home_teaching))


async def status_groups(
    session: AsyncSession, scope: Scope, runs: Sequence[LatestRun], as_of: date
) -> list[StatusGroup]:
    """Children counted per run, village and status inputs: a few hundred rows for a whole county."""
    if not runs:
        return []
    c = _children(scope, runs, as_of)
    keys = (c.c.run_id, c.c.village_id, c.c.bucket, c.c.case_status, c.c.case_scheme, c.c.case_code)
    q = select(*keys, c.c.home_teaching, func.count()).group_by(*keys, c.c.home_teaching)
    return [
        StatusGroup(row.run_id, row.village_id, _inputs(row), int(row[-1]))
        for row in (await session.execute(q)).all()
    ]


def _list_query(scope: Scope, runs: Sequence[LatestRun], as_of: date) -> Select[Any]:
    c = _children(scope, runs, as_of)
    return select(c).order_by(c.c.run_id, c.c.village_id.is_(None), c.c.village_id, c.c.birth_date, c.c.id)


async def stream_children(
    session: AsyncSession, scope: Scope, runs: Sequence[LatestRun], as_of: date
) -> AsyncIterator[ChildRow]:
    """The visible children one by one, by run and village (those not placed last), then birth date."""
    if not runs:
        return
    result = await session.stream(_list_query(scope, runs, as_of).execution_options(yield_per=CHUNK))
    async for partition in result.partitions(CHUNK):
        for r in partition:
            yield ChildRow(
                r.run_id,
                r.key,
                r.village_id,
                _inputs(r),
                r.name,
                r.sex,
                r.birth_date,
                r.national_id,
                r.school_id,
                r.school_label,
                r.student_number,
                bool(r.poverty),
                r.disability,
                r.case_number,
            )
