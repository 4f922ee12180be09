"""Saved cross-check runs and their children (migration 0018): bulk inserts, the review's queries, and
the claim that makes a confirmation happen once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Area, CrosscheckChild, CrosscheckRun, School

CHUNK = 2000  # rows per INSERT statement: 150 000 children are 75 round trips
CHILDREN = cast(Table, CrosscheckChild.__table__)


@dataclass(frozen=True)
class Region:
    """Children whose village or school of record is listed (a township, or a township officer's area)."""

    village_ids: frozenset[int] = field(default_factory=frozenset)
    school_ids: frozenset[int] = field(default_factory=frozenset)

    def clause(self, village: Any, school: Any) -> ColumnElement[bool]:
        return or_(village.in_(sorted(self.village_ids)), school.in_(sorted(self.school_ids)))


@dataclass(frozen=True)
class ChildFilter:
    """What the review shows: every field None means everything of the run (within `regions`)."""

    bucket: str | None = None
    change: str | None = None  # new | changed | same | changes (new or changed) | gone
    decided: bool | None = None
    school_id: int | None = None
    regions: tuple[Region, ...] = ()  # all must hold: the viewer's area, then the township chosen


def _where(run_id: int, flt: ChildFilter, *, with_change: bool = True) -> list[ColumnElement[bool]]:
    c = CrosscheckChild
    found: list[ColumnElement[bool]] = [c.run_id == run_id]
    if flt.bucket:
        found.append(c.bucket == flt.bucket)
    if with_change and flt.change == "changes":
        found.append(c.change != "same")
    elif with_change and flt.change in ("new", "changed", "same"):
        found.append(c.change == flt.change)
    if flt.decided is not None:
        found.append(c.decided_at.is_not(None) if flt.decided else c.decided_at.is_(None))
    if flt.school_id is not None:
        found.append(c.school_id == flt.school_id)
    found += [region.clause(c.village_id, c.school_id) for region in flt.regions]
    return found


async def counties(session: AsyncSession) -> list[Area]:
    q = select(Area).where(Area.level == "county").order_by(Area.id)
    return list((await session.scalars(q)).all())


async def areas(session: AsyncSession) -> list[Area]:
    return list((await session.scalars(select(Area).order_by(Area.id))).all())


async def schools(session: AsyncSession) -> list[School]:
    return list((await session.scalars(select(School).order_by(School.id))).all())


async def latest_run(session: AsyncSession, area_id: int) -> CrosscheckRun | None:
    q = (
        select(CrosscheckRun)
        .where(CrosscheckRun.area_id == area_id)
        .order_by(CrosscheckRun.created_at.desc(), CrosscheckRun.id.desc())
        .limit(1)
    )
    return (await session.scalars(q)).first()


async def run(session: AsyncSession, run_id: int) -> CrosscheckRun | None:
    return await session.get(CrosscheckRun, run_id)


async def add_run(session: AsyncSession, row: CrosscheckRun) -> int:
    session.add(row)
    await session.flush()
    return row.id


async def verdicts(session: AsyncSession, run_id: int) -> dict[str, tuple[str, str]]:
    """Key → (bucket, reason) of a run's children: what the next run is compared with."""
    q = select(CrosscheckChild.key, CrosscheckChild.bucket, CrosscheckChild.reason).where(
        CrosscheckChild.run_id == run_id
    )
    return {key: (bucket, reason) for key, bucket, reason in (await session.execute(q)).all()}


async def insert_children(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Core INSERTs of CHUNK rows each (executemany): no ORM object per child."""
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(CHILDREN), list(rows[start : start + CHUNK]))


async def counts(session: AsyncSession, run_id: int, flt: ChildFilter) -> dict[tuple[str, str], int]:
    """(bucket, change) → children, within the filter (its change ignored: the table shows them all)."""
    c = CrosscheckChild
    q = select(c.bucket, c.change, func.count()).where(*_where(run_id, flt, with_change=False))
    rows = (await session.execute(q.group_by(c.bucket, c.change))).all()
    return {(bucket, change): n for bucket, change, n in rows}


def _gone_query(current: CrosscheckRun, flt: ChildFilter) -> Any:
    """Children of the previous run whose key this run does not have, within the filter's area."""
    before = aliased(CrosscheckChild)
    now = aliased(CrosscheckChild)
    conditions: list[ColumnElement[bool]] = [before.run_id == current.previous_id]
    if flt.bucket:
        conditions.append(before.bucket == flt.bucket)
    if flt.school_id is not None:
        conditions.append(before.school_id == flt.school_id)
    conditions += [region.clause(before.village_id, before.school_id) for region in flt.regions]
    taken = select(now.id).where(now.run_id == current.id, now.key == before.key).exists()
    return before, and_(*conditions, ~taken)


async def gone_counts(session: AsyncSession, current: CrosscheckRun, flt: ChildFilter) -> dict[str, int]:
    """Bucket (in the previous run) → children gone since."""
    if current.previous_id is None:
        return {}
    before, where = _gone_query(current, flt)
    q = select(before.bucket, func.count()).where(where).group_by(before.bucket)
    return {bucket: n for bucket, n in (await session.execute(q)).all()}


async def gone(
    session: AsyncSession, current: CrosscheckRun, flt: ChildFilter, *, offset: int, limit: int
) -> list[CrosscheckChild]:
    if current.previous_id is None:
        return []
    before, where = _gone_query(current, flt)
    q = select(before).where(where).order_by(before.id).offset(offset).limit(limit)
    return list((await session.scalars(q)).all())


async def page(
    session: AsyncSession, run_id: int, flt: ChildFilter, *, offset: int, limit: int
) -> tuple[list[CrosscheckChild], int]:
    """One page of the filtered children (in bucket order, as the proposal), and how many in all."""
    where = _where(run_id, flt)
    total = await session.scalar(select(func.count()).select_from(CrosscheckChild).where(*where))
    q = select(CrosscheckChild).where(*where).order_by(CrosscheckChild.id).offset(offset).limit(limit)
    return list((await session.scalars(q)).all()), int(total or 0)


async def samples(
    session: AsyncSession, run_id: int, flt: ChildFilter, *, per_school: int, schools_shown: int
) -> list[CrosscheckChild]:
    """The first `per_school` children of each school of record (the first `schools_shown` schools by
    name), within the filter: a spot check of what the run says, school by school."""
    c = CrosscheckChild
    label = func.coalesce(c.school_label, "")
    ranked = (
        select(
            c.id, label.label("school"), func.row_number().over(partition_by=label, order_by=c.id).label("n")
        )
        .where(*_where(run_id, flt))
        .subquery()
    )
    first_schools = (
        select(ranked.c.school).distinct().order_by(ranked.c.school).limit(schools_shown).subquery()
    )
    ids = select(ranked.c.id).where(
        ranked.c.n <= per_school, ranked.c.school.in_(select(first_schools.c.school))
    )
    q = select(c).where(c.id.in_(ids)).order_by(label, c.id)
    return list((await session.scalars(q)).all())


def _undecided(
    run_id: int, flt: ChildFilter, pupils: bool | None, placed: bool | None = None
) -> list[ColumnElement[bool]]:
    where = [*_where(run_id, flt), CrosscheckChild.decided_at.is_(None)]
    if pupils is not None:
        pupil = CrosscheckChild.student_id
        where.append(pupil.is_not(None) if pupils else pupil.is_(None))
    if placed is not None:
        village = CrosscheckChild.village_id
        where.append(village.is_not(None) if placed else village.is_(None))
    return where


async def selection(
    session: AsyncSession,
    run_id: int,
    flt: ChildFilter,
    limit: int,
    *,
    pupils: bool | None = None,
    placed: bool | None = None,
) -> list[CrosscheckChild]:
    """Undecided children of the filter, oldest first, at most `limit` (a confirmation's batch); with
    `pupils`, only those with (or without) a roster pupil; with `placed`, with (or without) a village."""
    q = select(CrosscheckChild).where(*_undecided(run_id, flt, pupils, placed))
    return list((await session.scalars(q.order_by(CrosscheckChild.id).limit(limit))).all())


async def undecided(
    session: AsyncSession,
    run_id: int,
    flt: ChildFilter,
    *,
    pupils: bool | None = None,
    placed: bool | None = None,
) -> int:
    where = _undecided(run_id, flt, pupils, placed)
    q = select(func.count()).select_from(CrosscheckChild).where(*where)
    return int(await session.scalar(q) or 0)


async def all_children(session: AsyncSession, run_id: int) -> list[dict[str, Any]]:
    """Every child of a run as plain column mappings (lighter than ORM rows, for the workbook)."""
    q = select(CHILDREN).where(CHILDREN.c.run_id == run_id).order_by(CHILDREN.c.id)
    return [dict(row) for row in (await session.execute(q)).mappings().all()]


async def child(session: AsyncSession, child_id: int) -> CrosscheckChild | None:
    return await session.get(CrosscheckChild, child_id)


async def claim(session: AsyncSession, child_id: int, now: datetime, staff_id: int | None) -> bool:
    """Marks the child decided unless someone already did: True for the one request that gets it (a
    second request waits on the row's lock, then finds it decided)."""
    q = (
        update(CrosscheckChild)
        .where(CrosscheckChild.id == child_id, CrosscheckChild.decided_at.is_(None))
        .values(decided_at=now, decided_by_id=staff_id)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(q)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_decision(
    session: AsyncSession, child_id: int, decision: str, case_id: int | None, detail: dict[str, Any] | None
) -> None:
    values: dict[str, Any] = {"decision": decision, "case_id": case_id}
    if detail is not None:
        values["detail"] = detail
    q = update(CrosscheckChild).where(CrosscheckChild.id == child_id).values(**values)
    await session.execute(q.execution_options(synchronize_session=False))


async def place(session: AsyncSession, child_id: int, village_id: int) -> bool:
    """Sets the village of an undecided child; False when someone decided it meanwhile."""
    q = (
        update(CrosscheckChild)
        .where(CrosscheckChild.id == child_id, CrosscheckChild.decided_at.is_(None))
        .values(village_id=village_id)
        .execution_options(synchronize_session=False)
    )
    return bool((await session.execute(q)).rowcount)  # type: ignore[attr-defined]


# Retention (domain.privacy.retention): runs older than the latest KEEP of a county lose their children.
async def runs_past(session: AsyncSession, keep: int) -> list[int]:
    """Runs of every county but the latest `keep` of each."""
    found: list[int] = []
    for (area_id,) in (await session.execute(select(CrosscheckRun.area_id).distinct())).all():
        q = (
            select(CrosscheckRun.id)
            .where(CrosscheckRun.area_id == area_id)
            .order_by(CrosscheckRun.created_at.desc(), CrosscheckRun.id.desc())
            .offset(keep)
        )
        found += (await session.scalars(q)).all()
    return sorted(found)


PII_COLUMNS: dict[str, Any] = {
    "name": "",
    "national_id": None,
    "birth_date": None,
    "sex": None,
    "registered_address": None,
    "current_address": None,
    "student_number": None,
    "params": {},
}


async def forget_student(session: AsyncSession, student_id: int, national_id: str | None) -> int:
    """Removes the personal details of every saved cross-check row of a student (their roster row, or
    their ID number as a list gave it): an erased or anonymised child is not kept by a run. Bucket,
    decision and case stay for the counts. Returns the rows touched."""
    c = CrosscheckChild
    match = c.student_id == student_id
    if national_id:
        match = or_(match, c.national_id == national_id)
    q = update(c).where(match).values(**PII_COLUMNS, detail={})
    result = await session.execute(q.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def clear_old_children(session: AsyncSession, run_ids: Sequence[int], *, remove: bool) -> int:
    """Deletes the runs' children, except those a case was opened or evidenced from: they lose their
    personal details instead (the case holds the evidence). Returns how many rows were touched."""
    if not run_ids:
        return 0
    c = CrosscheckChild
    in_runs = c.run_id.in_(list(run_ids))
    doomed = and_(in_runs, c.case_id.is_(None))
    kept = and_(in_runs, c.case_id.is_not(None), or_(c.name != "", c.national_id.is_not(None)))
    if not remove:
        n = await session.scalar(select(func.count()).select_from(c).where(or_(doomed, kept)))
        return int(n or 0)
    deleted = await session.execute(delete(c).where(doomed).execution_options(synchronize_session=False))
    cleared = await session.execute(
        update(c).where(kept).values(**PII_COLUMNS, detail={}).execution_options(synchronize_session=False)
    )
    return int(deleted.rowcount) + int(cleared.rowcount)  # type: ignore[attr-defined]
