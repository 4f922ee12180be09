"""Removing a child's personal details while the counts made of them stay right (docs/retention.md).

A case is anonymised rather than deleted: its number, school (through the student row), category code
and dated status changes remain, because the monthly reports already sent (学校一月一报告,
003_ee1c82519c64281c.txt) counted it, and the county's ledgers of past months must still add up.
What goes: the free text (reasons, notes, proofs, addresses typed in visits), visit coordinates, photos
and their files, reminders, and on the student row the name, numbers, guardian and addresses.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from storage import crosscheck_runs, home_teaching
from storage.models import Attachment, Case, Student
from storage.retention import RetentionQueries, attachment_keys
from storage.uow import UnitOfWork

# Event data kept after anonymisation: coded values the ledgers and monthly numbers read, no free text.
CODED_EVENT_KEYS = frozenset(
    {
        "mode",
        "met",
        "outcome",
        "code",
        "category",
        "method",
        "visited_on",
        "promised_return_on",
        "notice_served",
        "returned_on",
        "record_restored",
        "support_measures",
        "until",
        "retention_check",
        "ok",
    }
)
ANONYMOUS_NAME = "***"


class FileDeleter(Protocol):
    async def delete(self, key: str) -> bool: ...


@dataclass
class Removed:
    """What one pass removed; `files` are media keys to delete once the rows are committed."""

    cases: int = 0
    students: int = 0
    photos: int = 0
    files: set[str] = field(default_factory=set)


def coded_only(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data without free text, coordinates or photo ids."""
    kept = {k: v for k, v in data.items() if k in CODED_EVENT_KEYS}
    kept["anonymised"] = True
    return kept


async def anonymise_cases(uow: UnitOfWork, cases: Sequence[Case], now: datetime, removed: Removed) -> None:
    """Strips the cases, their events, photos and reminders of personal details (in the caller's
    transaction); adds the photos' now unused files to `removed.files`."""
    if not cases:
        return
    queries = RetentionQueries(uow.session)
    ids = [c.id for c in cases]
    for case in cases:
        case.reason = None
        case.resolution = None
        case.anonymised_at = now
    for event in await queries.events(ids):
        event.data = coded_only(event.data or {})
    await remove_photos(uow, await queries.attachments_of_cases(ids), removed)
    await queries.delete_reminders(ids)
    removed.cases += len(cases)


async def remove_photos(uow: UnitOfWork, rows: Sequence[Attachment], removed: Removed) -> None:
    """Deletes the photo rows; their files join `removed.files` unless another row still names them."""
    if not rows:
        return
    queries = RetentionQueries(uow.session)
    ids = {a.id for a in rows}
    keys = attachment_keys(rows)
    removed.files |= keys - await queries.keys_in_use(keys, besides=ids)
    await queries.delete_attachments(ids)
    removed.photos += len(rows)


async def anonymise_student(uow: UnitOfWork, student: Student, now: datetime, removed: Removed) -> None:
    """Removes the student's identifying details and key-group flags. Sex, school, class, home village
    the birth year and whether they are on the roll remain, for the area, age and enrolment figures.
    Saved cross-check rows naming the student lose their details too (checked before the ID goes)."""
    await crosscheck_runs.forget_student(uow.session, student.id, student.national_id)
    student.student_number = f"ANON-{student.id}"
    student.name = ANONYMOUS_NAME
    student.birth_date = date(student.birth_date.year, 1, 1)
    student.national_id = None
    student.guardian_name = student.guardian_relation = student.guardian_phone = None
    student.registered_residence = student.current_address = None
    student.anonymised_at = now
    await RetentionQueries(uow.session).delete_flags(student.id)
    await _anonymise_home_teaching(uow, student.id, removed)
    removed.students += 1


async def _anonymise_home_teaching(uow: UnitOfWork, student_id: int, removed: Removed) -> None:
    """送教上门: the plan's free text and the sessions' notes and photos go (they describe a disability);
    the dates, cadence and minutes stay for the held-vs-planned figures."""
    plan = await home_teaching.plan_of_student(uow.session, student_id)
    if plan is None:
        return
    plan.content_areas = plan.assessment_ref = ""
    plan.active = False
    photo_ids: list[int] = []
    for row in (await home_teaching.sessions_of_plans(uow.session, [plan.id]))[plan.id]:
        row.content, row.note, row.child_state = "", None, ""
        photo_ids += [i for i in row.photo_ids or [] if isinstance(i, int)]
        row.photo_ids = []
    await remove_photos(uow, await uow.attachments.by_ids(photo_ids), removed)


async def delete_files(media: FileDeleter, keys: Collection[str]) -> int:
    """Deletes the files (after the rows naming them are committed); returns how many were there."""
    deleted = 0
    for key in sorted(keys):
        deleted += bool(await media.delete(key))
    return deleted
