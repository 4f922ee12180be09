"""Streaming reads for the ledgers and the monthly report: rows arrive in chunks, never all at once."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, ScalarSelect, Select, String, case, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Case, CaseEvent, Code, School, SchoolClass, Staff, Student, StudentFlag
from storage.reporting import Cadre, CaseFilter, OverdueRules, Teacher, Township, Village, filtered_cases
from storage.scope import Scope

CHUNK = 500
VISIT = "visit_logged"
VISIT_TOKEN = "visit:"  # a visit in the `events` of stream_entered


# What every ledger row shows of its case and pupil, by label; then what the case ledgers add.
_PUPIL_COLUMNS = (
    Case.number,
    Case.status,
    Case.kind.label("case_kind"),  # dropout | out_of_school (失学: school and class are None)
    Student.name.label("name"),
    Student.student_number,
    School.name.label("school"),
    SchoolClass.name.label("class_name"),
    SchoolClass.grade,
)
_CASE_COLUMNS = (
    *_PUPIL_COLUMNS,
    Case.category_scheme,
    Case.category_code,
    Case.reason,
    Case.first_absent_on,
    Case.opened_at,
    Case.updated_at,
    Case.verification_due_at,
    Case.return_due_at,
    Student.sex,
    Student.birth_date,
    Student.national_id,
    Student.guardian_name,
    Student.guardian_relation,
    Student.guardian_phone,
    Student.registered_residence,
    Student.current_address,
    Case.returned_on,
    Case.closed_at,
    Village.name.label("village"),
)


async def _stream(session: AsyncSession, query: Select[Any]) -> AsyncIterator[Any]:
    """Named tuples by label: reading an attribute of SQLAlchemy's Row costs 0.3 µs, of a named tuple
    a tenth of that, and a ledger row reads some 25."""
    if session.get_bind().dialect.name == "postgresql":
        # A ledger's correlated subqueries push PostgreSQL's cost estimate past its JIT thresholds;
        # compiling them took longer than running them (seconds for 100 000 rows).
        await session.execute(text("SET LOCAL jit = off"))
    result = await session.stream(query.execution_options(yield_per=CHUNK))
    # fields known only at run time: mypy types the class as a plain tuple, without _make
    make = cast(Any, namedtuple("LedgerRow", list(result.keys())))._make
    async for partition in result.partitions(CHUNK):
        for row in partition:
            yield make(row)


def _of_case(column: Any, *where: ColumnElement[bool]) -> ScalarSelect[Any]:
    """`column` (an aggregate) over the events of the row's case that match `where`."""
    return select(column).where(CaseEvent.case_id == Case.id, *where).scalar_subquery()


def _latest(column: Any, *where: ColumnElement[bool]) -> ScalarSelect[Any]:
    """`column` of the latest event of the row's case that matches `where`."""
    return (
        select(column)
        .where(CaseEvent.case_id == Case.id, *where)
        .order_by(CaseEvent.occurred_at.desc(), CaseEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


class LedgerQueries:
    """Case and visit rows for exports, in a stable order, scoped and filtered like the case list."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _cases(
        self, scope: Scope, flt: CaseFilter, now: datetime, rules: OverdueRules, *extra: Any
    ) -> Select[Any]:
        """Plain rows (no ORM entities: building those cost half the export's time) labelled as in
        _CASE_COLUMNS, plus teacher, cadre, flags "a,b" and the `extra` columns, in ledger order."""
        flags = (
            select(func.aggregate_strings(StudentFlag.flag, ","))
            .where(StudentFlag.student_id == Student.id)
            .scalar_subquery()
        )
        return (
            filtered_cases(
                scope,
                flt,
                now,
                rules,
                *_CASE_COLUMNS,
                Teacher.name.label("teacher"),
                Cadre.name.label("cadre"),
                flags.label("flags"),
                *extra,
            )
            .outerjoin(Teacher, Teacher.id == Case.responsible_teacher_id)
            .outerjoin(Cadre, Cadre.id == Case.responsible_cadre_id)
            # Children on no school roll (失学) after the schools', on both databases alike.
            .order_by(
                School.id.is_(None), School.code, SchoolClass.grade, SchoolClass.id, Case.opened_at, Case.id
            )
        )

    def stream_suspected(
        self,
        scope: Scope,
        flt: CaseFilter,
        now: datetime,
        rules: OverdueRules,
        *,
        statuses: Collection[str],
        decisions: Collection[str],
    ) -> AsyncIterator[Any]:
        """Cases now in `statuses`: the _cases columns plus visit (the data of the latest visit) and
        decision_kind / decision (kind and data of the latest event of a kind in `decisions`)."""
        q = self._cases(
            scope,
            flt,
            now,
            rules,
            _latest(CaseEvent.data, CaseEvent.kind == VISIT).label("visit"),
            _latest(CaseEvent.kind, CaseEvent.kind.in_(sorted(decisions))).label("decision_kind"),
            _latest(CaseEvent.data, CaseEvent.kind.in_(sorted(decisions))).label("decision"),
        )
        return _stream(self.session, q.where(Case.status.in_(sorted(statuses))))

    def stream_entered(
        self,
        scope: Scope,
        flt: CaseFilter,
        now: datetime,
        rules: OverdueRules,
        *,
        statuses: Collection[str],
        measure_kinds: Collection[str],
        measure_statuses: Collection[str],
    ) -> AsyncIterator[Any]:
        """Cases that ever moved into one of `statuses`, whatever their status now: the _cases columns
        plus entered_at (their first move into `statuses`), visit (the data of the latest visit) and
        events, comma-separated, one token per event: VISIT_TOKEN + its mode ("" where the visit
        recorded none) for a visit, the kind of an event of a kind in `measure_kinds`, and the status
        reached for any other event moving the case into one of `measure_statuses`."""
        # Correlated subqueries, not joins on GROUP BY case_id: those aggregate every event of the
        # province, these read a ledger case's few events through the case_id index. Each costs a
        # probe per row, so one subquery gathers the visits and the measures.
        entering = CaseEvent.to_status.in_(sorted(statuses))
        is_visit = CaseEvent.kind == VISIT
        by_kind = CaseEvent.kind.in_(sorted(measure_kinds))
        token = case(
            (is_visit, literal(VISIT_TOKEN, String) + func.coalesce(CaseEvent.data["mode"].as_string(), "")),
            (by_kind, CaseEvent.kind),
            else_=CaseEvent.to_status,
        )
        q = self._cases(
            scope,
            flt,
            now,
            rules,
            _of_case(func.min(CaseEvent.occurred_at), entering).label("entered_at"),
            _latest(CaseEvent.data, is_visit).label("visit"),
            _of_case(
                func.aggregate_strings(token, ","),
                or_(is_visit, by_kind, CaseEvent.to_status.in_(sorted(measure_statuses))),
            ).label("events"),
        )
        # PostgreSQL runs the EXISTS as a hash semi-join: one pass over the events (0.4–0.6 s for the
        # 3 million of the benchmark province). It does so for one school as well, as it cannot
        # estimate how few cases a scope holds; an index on case_events.to_status would spare it that.
        entered = select(CaseEvent.id).where(CaseEvent.case_id == Case.id, entering).exists()
        return _stream(self.session, q.where(entered))

    def stream_visits(
        self,
        scope: Scope,
        flt: CaseFilter,
        now: datetime,
        rules: OverdueRules,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[Any]:
        """Plain rows per visit: the _PUPIL_COLUMNS of its case, data, occurred_at, recorded_at, attempt
        (its number within the case) and recorder (name)."""
        attempt = (
            func.row_number()
            .over(partition_by=CaseEvent.case_id, order_by=(CaseEvent.occurred_at, CaseEvent.id))
            .label("attempt")
        )
        numbered = select(CaseEvent.id.label("event_id"), attempt).where(CaseEvent.kind == VISIT).subquery()
        cases = filtered_cases(scope, flt, now, rules, Case.id)
        q = (
            select(
                *_PUPIL_COLUMNS,
                CaseEvent.data,
                CaseEvent.occurred_at,
                CaseEvent.recorded_at,
                numbered.c.attempt,
                Staff.name.label("recorder"),
            )
            .select_from(CaseEvent)
            .join(numbered, numbered.c.event_id == CaseEvent.id)
            .join(Case, Case.id == CaseEvent.case_id)
            .join(Student, Student.id == Case.student_id)
            .outerjoin(School, School.id == Student.school_id)
            .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
            .outerjoin(Staff, Staff.id == CaseEvent.actor_id)
            .where(Case.id.in_(cases))
            .order_by(School.id.is_(None), School.code, Case.number, CaseEvent.occurred_at, CaseEvent.id)
        )
        if since is not None:
            q = q.where(CaseEvent.occurred_at >= since)
        if until is not None:
            q = q.where(CaseEvent.occurred_at < until)
        return _stream(self.session, q)

    async def code_labels(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(scheme, code) → (Chinese, English) label of every code, active or not."""
        rows = await self.session.execute(select(Code.scheme, Code.code, Code.label_zh, Code.label_en))
        return {(s, c): (zh, en) for s, c, zh, en in rows.all()}

    async def staff_names(self) -> dict[int, str]:
        return {i: n for i, n in (await self.session.execute(select(Staff.id, Staff.name))).all()}

    async def school_events(self, school_id: int, until: datetime) -> Sequence[Any]:
        """(case id, event kind, occurred_at, from, to) of the school's cases before `until`, in order."""
        q = (
            select(
                CaseEvent.case_id,
                CaseEvent.kind,
                CaseEvent.occurred_at,
                CaseEvent.from_status,
                CaseEvent.to_status,
            )
            .join(Case, Case.id == CaseEvent.case_id)
            .join(Student, Student.id == Case.student_id)
            # A 失学 child enrolled since is the school's pupil now, but their case is counted apart, per
            # township (domain.school_age.out_of_school_figures), never as a dropout of the school.
            .where(Student.school_id == school_id, CaseEvent.occurred_at < until, Case.kind == "dropout")
            .order_by(CaseEvent.case_id, CaseEvent.occurred_at, CaseEvent.id)
        )
        return (await self.session.execute(q)).all()

    async def out_of_school_events(
        self, village_ids: Collection[int] | None, until: datetime
    ) -> Sequence[Any]:
        """(township id, township name, case id, event kind, occurred_at, from, to) of the 失学 cases whose
        child lives in one of `village_ids` (None: everywhere), before `until`, in order per case."""
        q = (
            select(
                Township.id,
                Township.name,
                CaseEvent.case_id,
                CaseEvent.kind,
                CaseEvent.occurred_at,
                CaseEvent.from_status,
                CaseEvent.to_status,
            )
            .join(Case, Case.id == CaseEvent.case_id)
            .join(Student, Student.id == Case.student_id)
            .join(Village, Village.id == Student.home_village_id)
            .join(Township, Township.id == Village.parent_id)
            .where(Case.kind == "out_of_school", CaseEvent.occurred_at < until)
            .order_by(Township.name, Township.id, CaseEvent.case_id, CaseEvent.occurred_at, CaseEvent.id)
        )
        if village_ids is not None:
            q = q.where(Student.home_village_id.in_(sorted(village_ids)))
        return (await self.session.execute(q)).all()

    async def school_cases(self, school_id: int, ids: Collection[int]) -> Sequence[Any]:
        """(case, student, class name, grade, teacher name) for the given cases of the school."""
        if not ids:
            return []
        q = (
            select(Case, Student, SchoolClass.name, SchoolClass.grade, Teacher.name)
            .join(Student, Student.id == Case.student_id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .outerjoin(Teacher, Teacher.id == Case.responsible_teacher_id)
            .where(Student.school_id == school_id, Case.id.in_(sorted(ids)))
            .order_by(SchoolClass.grade, SchoolClass.id, Case.number)
        )
        return (await self.session.execute(q)).all()

    async def school_staff_names(self, school_id: int, role: str) -> list[str]:
        """Names of the school's active staff in `role`, in the order they were added."""
        q = (
            select(Staff.name)
            .where(Staff.school_id == school_id, Staff.role == role, Staff.active.is_(True))
            .order_by(Staff.id)
        )
        return list((await self.session.scalars(q)).all())

    async def enrolled_in_school(self, school_id: int) -> int:
        q = (
            select(func.count())
            .select_from(Student)
            .where(Student.school_id == school_id, Student.active.is_(True))
        )
        return int(await self.session.scalar(q) or 0)

    async def school(self, school_id: int) -> School | None:
        return await self.session.get(School, school_id)

    async def already_delivered(self, entity_id: str) -> bool:
        """Whether the monthly report with this key was already sent (recorded in the audit log)."""
        q = (
            select(AuditEntry.id)
            .where(
                AuditEntry.action == "deliver",
                AuditEntry.entity == "monthly_report",
                AuditEntry.entity_id == entity_id,
            )
            .limit(1)
        )
        return await self.session.scalar(q) is not None
