"""What a coordinator sees of cases: a scoped, paged list and the full file of one case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.audit import Actor, audit
from domain.errors import NotInScope
from domain.privacy.identity import mask_name, mask_student_number
from domain.privacy.pii_text import mask_identifiers, mask_in
from domain.reports.stats import OVERDUE_RULES, is_overdue
from domain.school_age.school_roll import DROPOUT, is_placeholder
from storage.models import Attachment, Case, CaseEvent, Escalation, Reminder, School, SchoolClass, Student
from storage.reporting import CaseFilter, ReportingRepository
from storage.scope import Scope
from storage.uow import UnitOfWork

MAX_PER_PAGE = 200


def shown_record_number(student_number: str) -> str:
    """A 学籍号 masked for display; "—" for the internal number of a child on no school roll."""
    return "—" if is_placeholder(student_number) else mask_student_number(student_number)


@dataclass(frozen=True)
class CaseListItem:
    """One row of the case list; the name is masked (the full name is on the audited case page)."""

    id: int
    number: str
    student_label: str
    student_number: str  # masked 学籍号; "—" for a child on no school roll
    school: str | None  # None: on no school roll (失学), shown as "—/未入学"
    class_name: str | None
    grade: int | None
    village: str | None
    status: str
    category_scheme: str | None
    category_code: str | None
    first_absent_on: date | None
    opened_at: datetime
    updated_at: datetime
    overdue: bool
    kind: str = DROPOUT  # dropout | out_of_school (domain.school_age.school_roll)
    township: str | None = None  # the village's township (where a 失学 child is placed)


@dataclass(frozen=True)
class CasePage:
    items: list[CaseListItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


async def list_cases(
    uow: UnitOfWork,
    scope: Scope,
    flt: CaseFilter,
    *,
    now: datetime,
    page: int = 1,
    per_page: int = 50,
    full_names: bool = False,
) -> CasePage:
    """One page of the cases in scope matching the filter, newest first."""
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    total, rows = await ReportingRepository(uow.session).case_page(
        scope, flt, now, OVERDUE_RULES, limit=per_page, offset=(page - 1) * per_page
    )
    items = [
        CaseListItem(
            id=case.id,
            number=case.number,
            student_label=student.name if full_names else mask_name(student.name),
            student_number=shown_record_number(student.student_number),
            school=school,
            class_name=class_name,
            grade=grade,
            village=village,
            status=case.status,
            category_scheme=case.category_scheme,
            category_code=case.category_code,
            first_absent_on=case.first_absent_on,
            opened_at=case.opened_at,
            updated_at=case.updated_at,
            overdue=is_overdue(case, now),
            kind=case.kind,
            township=township,
        )
        for case, student, school, class_name, grade, village, township in rows
    ]
    return CasePage(items=items, total=total, page=page, per_page=per_page)


# Event data keys that hold staff ids (named on the case page, never shown as numbers).
PERSON_KEYS = ("visitors", "recipient_id", "from", "to", "told_instead")


def people_in(data: dict[str, Any]) -> set[int]:
    found: set[int] = set()
    for key in PERSON_KEYS:
        value = data.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int) and not isinstance(item, bool):
                found.add(item)
    return found


@dataclass(frozen=True)
class TimelineEntry:
    event: CaseEvent
    actor: str | None
    visitors: list[str]
    people: dict[int, str] = field(default_factory=dict)  # staff named in the event's data

    @property
    def data(self) -> dict[str, Any]:
        """The event's data as pages and the API show it: ID and mobile numbers in free text masked
        (also in what was stored before such text was refused)."""
        return dict(mask_in(self.event.data or {}))


@dataclass(frozen=True)
class CaseFile:
    """The case page: the pupil, the people responsible, the timeline, photos and reminders."""

    case: Case
    student: Student
    school: School | None  # None for a child on no school roll (失学)
    school_class: SchoolClass | None
    village: str | None
    teacher: str | None
    cadre: str | None
    flags: list[str]
    timeline: list[TimelineEntry]
    attachments: list[Attachment]
    reminders: list[tuple[Reminder, str]]
    overdue: bool
    escalations: list[tuple[Escalation, str | None]] = field(default_factory=list)  # and who took it on
    township: str | None = None  # the township of the pupil's village

    @property
    def student_number(self) -> str:
        """The masked 学籍号, "—" for a child on no school roll (the internal number is no 学籍号)."""
        return shown_record_number(self.student.student_number)

    @property
    def reason(self) -> str | None:
        """The absence report's note, ID and mobile numbers masked."""
        return mask_identifiers(self.case.reason) if self.case.reason else self.case.reason

    @property
    def resolution(self) -> str | None:
        """The proof of a clearing or who approved a deferral, ID and mobile numbers masked."""
        return mask_identifiers(self.case.resolution) if self.case.resolution else self.case.resolution


async def _in_scope_or_denied(
    uow: UnitOfWork, scope: Scope, actor: Actor, case_id: int, now: datetime
) -> Any:
    row = await ReportingRepository(uow.session).case_detail(scope, case_id)
    if row is None:
        audit(uow, actor, now, "denied", "case", case_id)
        raise NotInScope(f"case {case_id}")
    return row


async def open_case_file(
    uow: UnitOfWork, scope: Scope, actor: Actor, case_id: int, *, now: datetime
) -> CaseFile:
    """The whole case for someone whose scope covers it; every view is audited (DOMAIN.md §8).
    Raises NotInScope (audited as "denied") otherwise; the caller commits in both cases."""
    case, student, school, school_class, village, teacher, cadre, township = await _in_scope_or_denied(
        uow, scope, actor, case_id, now
    )
    repo = ReportingRepository(uow.session)
    events = await repo.timeline(case.id)
    names = await repo.staff_names(sorted({i for e, _ in events for i in people_in(e.data or {})}))
    timeline = [
        TimelineEntry(
            event=e,
            actor=name,
            visitors=[names.get(i, f"#{i}") for i in (e.data or {}).get("visitors") or []],
            people={i: names.get(i, f"#{i}") for i in people_in(e.data or {})},
        )
        for e, name in events
    ]
    audit(uow, actor, now, "view", "case", case.id)
    return CaseFile(
        case=case,
        student=student,
        school=school,
        school_class=school_class,
        village=village,
        teacher=teacher,
        cadre=cadre,
        flags=await uow.students.flags(student.id),
        timeline=timeline,
        attachments=list(await repo.attachments(case.id)),
        reminders=[(r, n) for r, n in await repo.reminders(case.id)],
        overdue=is_overdue(case, now),
        escalations=await _escalations(uow, case.id),
        township=township,
    )


async def _escalations(uow: UnitOfWork, case_id: int) -> list[tuple[Escalation, str | None]]:
    found = list(await uow.escalations.of_case(case_id))
    ids = [e.acknowledged_by_id for e in found if e.acknowledged_by_id is not None]
    names = await ReportingRepository(uow.session).staff_names(ids)
    return [(e, names.get(e.acknowledged_by_id) if e.acknowledged_by_id else None) for e in found]


async def attachment_in_scope(
    uow: UnitOfWork,
    scope: Scope,
    actor: Actor,
    case_id: int,
    attachment_id: int,
    *,
    now: datetime,
    record_view: bool = True,
) -> Attachment:
    """A photo of a case the person may see; NotInScope (audited) for anything else. Thumbnails
    pass record_view=False: the case page that shows them is already audited."""
    await _in_scope_or_denied(uow, scope, actor, case_id, now)
    attachment = await ReportingRepository(uow.session).attachment(attachment_id)
    if attachment is None or attachment.case_id != case_id:
        audit(uow, actor, now, "denied", "attachment", attachment_id)
        raise NotInScope(f"attachment {attachment_id}")
    if record_view:
        audit(uow, actor, now, "view", "attachment", attachment.id, case=case_id)
    return attachment


async def filter_in_scope(
    uow: UnitOfWork, scope: Scope, actor: Actor, flt: CaseFilter, *, now: datetime
) -> bool:
    """A school or village named in a filter must lie in the person's area (else the URL answers 404)."""
    repo = ReportingRepository(uow.session)
    if flt.school_id is not None and flt.school_id not in {s.id for s in await repo.schools(scope)}:
        audit(uow, actor, now, "denied", "school", flt.school_id)
        return False
    if flt.village_id is not None and flt.village_id not in {v.id for v in await repo.villages(scope)}:
        audit(uow, actor, now, "denied", "village", flt.village_id)
        return False
    return True
