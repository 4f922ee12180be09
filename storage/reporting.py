"""Read-only queries for the dashboard and the API: scoped case lists, counts and the staff page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Area,
    Attachment,
    Case,
    CaseEvent,
    ChannelAccount,
    Reminder,
    School,
    SchoolClass,
    Staff,
    Student,
    StudentFlag,
)
from storage.repositories import _student_in_scope, preferred_account
from storage.scope import Scope

Teacher = aliased(Staff, name="teacher")
Cadre = aliased(Staff, name="cadre")
Village = aliased(Area, name="village")
# The village's township: where a child on no school roll (失学) is placed, having no school.
Township = aliased(Area, name="township")
# Deadline column → statuses in which that deadline still binds (decided by domain.reports.stats).
OverdueRules = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class CaseFilter:
    """What the case list, the exports and the API may filter on; empty means "any"."""

    statuses: frozenset[str] = field(default_factory=frozenset)
    category: tuple[str, str] | None = None  # (scheme, code)
    school_id: int | None = None
    village_id: int | None = None
    key_group: str | None = None
    overdue: bool = False


def case_scope(scope: Scope) -> ColumnElement[bool]:
    """Cases whose pupil is in scope, or for which the person is responsible (as CaseRepository)."""
    if scope.everything:
        return true()
    # As a semi-join on the pupil (not a condition on the joined row) the database can find the pupils
    # by their indexes first, instead of joining every case to its pupil and filtering afterwards.
    pupils = select(Student.id).where(_student_in_scope(scope))
    return or_(
        Case.student_id.in_(pupils),
        Case.responsible_teacher_id == scope.staff_id,
        Case.responsible_cadre_id == scope.staff_id,
    )


def overdue_clause(now: datetime, rules: OverdueRules) -> ColumnElement[bool]:
    """A deadline in the past while the case is still in a status the deadline applies to."""
    parts = [
        and_(getattr(Case, column) < now, Case.status.in_(sorted(statuses)))
        for column, statuses in rules.items()
    ]
    return or_(*parts) if parts else false()


def _matching(
    q: Select[Any], scope: Scope, flt: CaseFilter, now: datetime, rules: OverdueRules
) -> Select[Any]:
    """The scope and the filter as WHERE clauses (Student must be joined to filter by school or village)."""
    q = q.where(case_scope(scope))
    if flt.statuses:
        q = q.where(Case.status.in_(sorted(flt.statuses)))
    if flt.category is not None:
        q = q.where(Case.category_scheme == flt.category[0], Case.category_code == flt.category[1])
    if flt.school_id is not None:
        q = q.where(Student.school_id == flt.school_id)
    if flt.village_id is not None:
        q = q.where(Student.home_village_id == flt.village_id)
    if flt.key_group:
        q = q.where(
            select(StudentFlag.id)
            .where(StudentFlag.student_id == Case.student_id, StudentFlag.flag == flt.key_group)
            .exists()
        )
    if flt.overdue:
        q = q.where(overdue_clause(now, rules))
    return q


def filtered_cases(
    scope: Scope, flt: CaseFilter, now: datetime, rules: OverdueRules, *columns: Any
) -> Select[Any]:
    """Case, pupil, school, class, village and its township (names) rows in scope matching the filter
    (or `columns`). A child on no school roll (失学) has no school and no class: those columns are None."""
    columns = columns or (
        Case,
        Student,
        School.name,
        SchoolClass.name,
        SchoolClass.grade,
        Village.name,
        Township.name,
    )
    q = (
        select(*columns)
        .select_from(Case)
        .join(Student, Student.id == Case.student_id)
        .outerjoin(School, School.id == Student.school_id)
        .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
        .outerjoin(Village, Village.id == Student.home_village_id)
        .outerjoin(Township, Township.id == Village.parent_id)
    )
    return _matching(q, scope, flt, now, rules)


def counted_cases(scope: Scope, flt: CaseFilter, now: datetime, rules: OverdueRules) -> Select[Any]:
    """How many cases filtered_cases finds, joining only what the scope and the filter need (every case
    has a pupil and the other joins are outer joins to one row at most, so they cannot change the count)."""
    q = select(func.count(Case.id)).select_from(Case)
    if flt.school_id is not None or flt.village_id is not None:
        q = q.join(Student, Student.id == Case.student_id)
    return _matching(q, scope, flt, now, rules)


class ReportingRepository:
    """Dashboard and API reads, always filtered by a Scope."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def case_page(
        self, scope: Scope, flt: CaseFilter, now: datetime, rules: OverdueRules, *, limit: int, offset: int
    ) -> tuple[int, Sequence[Any]]:
        """(total, rows) of one page of the case list, newest first."""
        q = filtered_cases(scope, flt, now, rules)
        total = await self.session.scalar(counted_cases(scope, flt, now, rules))
        rows = await self.session.execute(
            q.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit).offset(offset)
        )
        return int(total or 0), rows.all()

    async def case_detail(self, scope: Scope, case_id: int) -> Any | None:
        """One case in scope with pupil, school, class (None for a child on no roll), village, its
        township and responsible people, or None."""
        q = (
            select(Case, Student, School, SchoolClass, Village.name, Teacher.name, Cadre.name, Township.name)
            .join(Student, Student.id == Case.student_id)
            .outerjoin(School, School.id == Student.school_id)
            .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
            .outerjoin(Village, Village.id == Student.home_village_id)
            .outerjoin(Township, Township.id == Village.parent_id)
            .outerjoin(Teacher, Teacher.id == Case.responsible_teacher_id)
            .outerjoin(Cadre, Cadre.id == Case.responsible_cadre_id)
            .where(Case.id == case_id, case_scope(scope))
        )
        return (await self.session.execute(q)).first()

    async def timeline(self, case_id: int) -> Sequence[Any]:
        """(event, actor name) in the order they were recorded."""
        q = (
            select(CaseEvent, Staff.name)
            .outerjoin(Staff, Staff.id == CaseEvent.actor_id)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.occurred_at, CaseEvent.id)
        )
        return (await self.session.execute(q)).all()

    async def attachments(self, case_id: int) -> Sequence[Attachment]:
        q = select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)
        return (await self.session.scalars(q)).all()

    async def attachment(self, attachment_id: int) -> Attachment | None:
        return await self.session.get(Attachment, attachment_id)

    async def reminders(self, case_id: int) -> Sequence[Any]:
        """(reminder, recipient name) of the case, oldest first."""
        q = (
            select(Reminder, Staff.name)
            .join(Staff, Staff.id == Reminder.recipient_id)
            .where(Reminder.case_id == case_id)
            .order_by(Reminder.due_at, Reminder.id)
        )
        return (await self.session.execute(q)).all()

    async def staff_names(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self.session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(list(ids))))
        return {i: n for i, n in rows.all()}

    async def school_names(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self.session.execute(select(School.id, School.name).where(School.id.in_(list(ids))))
        return {i: n for i, n in rows.all()}

    async def schools(self, scope: Scope) -> Sequence[School]:
        q = select(School).order_by(School.name, School.id)
        if not scope.everything:
            q = q.where(School.id.in_(sorted(scope.school_ids)))
        return (await self.session.scalars(q)).all()

    async def villages(self, scope: Scope) -> Sequence[Area]:
        """Villages in the area, plus the home villages of pupils of the schools in scope."""
        q = select(Area).where(Area.level == "village").order_by(Area.name, Area.id)
        if not scope.everything:
            homes = select(Student.home_village_id).where(Student.school_id.in_(sorted(scope.school_ids)))
            q = q.where(or_(Area.id.in_(sorted(scope.village_ids)), Area.id.in_(homes)))
        return (await self.session.scalars(q)).all()

    async def staff_overview(self, scope: Scope, now: datetime, rules: OverdueRules) -> Sequence[Any]:
        """(staff, the account messages go to, overdue cases they are responsible for) of everyone working in scope."""
        overdue = (
            select(func.count(Case.id))
            .where(
                or_(Case.responsible_teacher_id == Staff.id, Case.responsible_cadre_id == Staff.id),
                overdue_clause(now, rules),
            )
            .correlate(Staff)
            .scalar_subquery()
        )
        q = (
            select(Staff, ChannelAccount, overdue)
            .outerjoin(ChannelAccount, ChannelAccount.id == preferred_account(Staff.id).scalar_subquery())
            .order_by(Staff.school_id, Staff.role, Staff.name, Staff.id)
        )
        if not scope.everything:
            q = q.where(
                or_(
                    Staff.school_id.in_(sorted(scope.school_ids)),
                    Staff.area_id.in_(sorted(scope.area_ids | scope.village_ids)),
                    Staff.id == scope.staff_id,
                )
            )
        return (await self.session.execute(q)).all()
