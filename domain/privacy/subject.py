"""Data subject requests (PIPL art. 45, 47; 未成年人保护法 art. 72): everything held about one student,
exported to one zip file, or erased. Both are audited.

Erasure is refused while a case of the student is still open: the child is then owed casework by law
(义务教育法), and deleting the record would silently drop them from the ledgers. The county closes or
clears the case first (docs/retention.md).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from domain.audit import Actor, audit
from domain.errors import DomainError, NotFound
from domain.privacy.erasure import Removed, anonymise_cases, anonymise_student, delete_files
from domain.privacy.identity import mask_student_number
from storage.models import Base, School, SchoolClass, Student
from storage.retention import ENDED, RetentionQueries
from storage.uow import UnitOfWork, UnitOfWorkFactory


class SubjectHasOpenCase(DomainError):
    """The student still has an open case, so their data cannot be erased yet."""

    def __init__(self, case_numbers: list[str]) -> None:
        super().__init__(", ".join(case_numbers))
        self.case_numbers = case_numbers


class ExportExists(DomainError):
    """The export file already exists; it is never overwritten."""


class Media(Protocol):
    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> bool: ...


@dataclass(frozen=True)
class SubjectExport:
    path: Path
    cases: int
    events: int
    photos: int
    files: int
    audit_entries: int


@dataclass(frozen=True)
class SubjectErasure:
    cases: int
    photos: int
    files: int


def _plain(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def row_dict(row: Base) -> dict[str, Any]:
    """Every column of the row, JSON-ready."""
    return {c.key: _plain(getattr(row, c.key)) for c in row.__mapper__.column_attrs}


async def _student(uow: UnitOfWork, student_number: str) -> Student:
    student = await uow.students.by_number(student_number.strip())
    if student is None:
        raise NotFound(f"no student with number {mask_student_number(student_number.strip())}")
    return student


async def export_subject(
    uow_factory: UnitOfWorkFactory,
    media: Media,
    student_number: str,
    out: Path,
    *,
    actor: Actor,
    now: datetime,
) -> SubjectExport:
    """Writes `out` (a zip readable only by its owner): subject.json with the student, flags, cases,
    events, escalations, reminders, photo list and audit entries about them, and photos/ with the files."""
    if out.exists():
        raise ExportExists(str(out))
    async with uow_factory() as uow:
        q = RetentionQueries(uow.session)
        student = await _student(uow, student_number)
        cases = await q.cases_of_student(student.id)
        ids = [c.id for c in cases]
        events = await q.events(ids)
        escalations = await q.escalations(ids)
        photos = await q.attachments_of_cases(ids)
        pairs: list[tuple[str, object]] = [("student", student.id)]
        pairs += [("case", i) for i in ids] + [("visit", e.id) for e in events]
        pairs += [("attachment", a.id) for a in photos] + [("escalation", e.id) for e in escalations]
        entries = await q.audit_about(pairs)
        school = await uow.session.get(School, student.school_id)
        klass = await uow.session.get(SchoolClass, student.class_id)
        document = {
            "exported_at": now.isoformat(),
            "student": row_dict(student)
            | {"school": school.name if school else None, "class": klass.name if klass else None},
            "flags": [f.flag for f in await q.flags(student.id)],
            "cases": [
                row_dict(c)
                | {
                    "events": [row_dict(e) for e in events if e.case_id == c.id],
                    "escalations": [row_dict(e) for e in escalations if e.case_id == c.id],
                    "reminders": [row_dict(r) for r in await q.reminders([c.id])],
                }
                for c in cases
            ],
            "photos": [row_dict(a) for a in photos],
            "audit": [row_dict(a) for a in entries],
        }
        audit(
            uow, actor, now, "export", "student", student.id,
            request="subject", cases=len(cases), photos=len(photos),
        )  # fmt: skip
        files = await _write_zip(out, document, media, photos)
        await uow.commit()
    return SubjectExport(out, len(cases), len(events), len(photos), files, len(entries))


async def _write_zip(out: Path, document: dict[str, Any], media: Media, photos: Any) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before anything is written: the file holds a child's complete record.
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    files = 0
    with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("subject.json", json.dumps(document, ensure_ascii=False, indent=2, default=str))
        written: set[str] = set()
        for photo in photos:
            for kind, key in (
                ("original", photo.sha256),
                ("evidence", photo.evidence_sha256),
                ("thumbnail", photo.thumbnail_sha256),
            ):
                if not key or key in written:
                    continue
                try:
                    data = await media.get(key)
                except LookupError:
                    continue  # listed in subject.json; the file itself is gone
                suffix = _suffix(photo.media_type) if kind == "original" else ".jpg"
                archive.writestr(f"photos/{photo.id}-{kind}{suffix}", data)
                written.add(key)
                files += 1
    return files


def _suffix(media_type: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(media_type, ".bin")


async def erase_subject(
    uow_factory: UnitOfWorkFactory, media: Media, student_number: str, *, actor: Actor, now: datetime
) -> SubjectErasure:
    """Anonymises the student and every case of theirs, deletes their photos and files; refused with
    SubjectHasOpenCase while a case is open."""
    removed = Removed()
    async with uow_factory() as uow:
        q = RetentionQueries(uow.session)
        student = await _student(uow, student_number)
        cases = await q.cases_of_student(student.id)
        if still_open := [c.number for c in cases if c.status not in ENDED]:
            raise SubjectHasOpenCase(still_open)
        await anonymise_cases(uow, cases, now, removed)
        await anonymise_student(uow, student, now, removed)
        audit(
            uow, actor, now, "erase", "student", student.id,
            request="subject", cases=len(cases), photos=removed.photos,
        )  # fmt: skip
        await uow.commit()
    files = await delete_files(media, removed.files)
    return SubjectErasure(len(cases), removed.photos, files)
