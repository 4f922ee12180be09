"""Read-only queries for the cross-check: the roster's pupils with their roll-call state, and schools."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, CaseEvent, School, Student


@dataclass(frozen=True, slots=True)
class RosterPupil:
    """A pupil on the product's own roster, with what the term-start roll call found."""

    id: int
    number: str
    name: str
    birth_date: date
    national_id: str | None
    school_code: str
    school_name: str
    absent: bool  # an open case (the roll call's, or a later absence's): on the roll, not in school
    case_number: str | None = None
    school_id: int | None = None  # for a saved run (domain.crosscheck.runs)
    home_village_id: int | None = None


async def roster_schools(session: AsyncSession, school_ids: Collection[int] | None = None) -> frozenset[str]:
    """Codes and names of the schools the product holds pupils of (of `school_ids` only, when given)."""
    query = select(School.code, School.name)
    if school_ids is not None:
        query = query.where(School.id.in_(sorted(school_ids)))
    rows = (await session.execute(query)).all()
    return frozenset(v for row in rows for v in row)


async def roster_pupils(
    session: AsyncSession, school_ids: Collection[int] | None = None
) -> list[RosterPupil]:
    """Active pupils (of `school_ids` only, when given: a county's run); `absent` when an open case exists
    (opened by the term-start roll call or a later absence: on the roll, not in school). Anonymised
    pupils are left out (nothing to match)."""
    open_query = select(Case.student_id, Case.number).where(Case.status != "closed")
    open_cases = {sid: number for sid, number in (await session.execute(open_query)).all()}
    query = (
        select(
            Student.id,
            Student.student_number,
            Student.name,
            Student.birth_date,
            Student.national_id,
            School.code,
            School.name,
            School.id,
            Student.home_village_id,
        )
        .join(School, School.id == Student.school_id)
        .where(Student.active.is_(True), Student.anonymised_at.is_(None))
        .order_by(Student.id)
    )
    if school_ids is not None:
        query = query.where(Student.school_id.in_(sorted(school_ids)))
    pupils = []
    rows = (await session.execute(query)).all()
    for sid, number, name, birth, national_id, code, school, school_id, village_id in rows:
        case = open_cases.get(sid)
        pupils.append(
            RosterPupil(
                sid,
                number,
                name,
                birth,
                national_id,
                code,
                school,
                case is not None,
                case,
                school_id,
                village_id,
            )
        )
    return pupils


async def roll_call_cases(session: AsyncSession) -> int:
    """How many open cases the term-start roll call opened (for the run's summary)."""
    query = (
        select(CaseEvent.case_id)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.kind == "roll_call_absent", Case.status != "closed")
        .distinct()
    )
    return len((await session.execute(query)).all())
