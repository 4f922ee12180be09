"""Queries of the retention job and of data subject requests (domain.privacy.retention, domain.privacy.subject)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import (
    Attachment,
    AuditEntry,
    Case,
    CaseEvent,
    ConversationDraft,
    Escalation,
    HomeTeachingSession,
    InboxUpdate,
    ProcessedUpdate,
    Reminder,
    Student,
    StudentFlag,
)
from storage.repositories import _Repository

ENDED = ("closed", "cleared")  # statuses with no casework left (销号, 核减)
_KEY_COLUMNS = (Attachment.sha256, Attachment.evidence_sha256, Attachment.thumbnail_sha256)


def attachment_keys(rows: Iterable[Attachment]) -> set[str]:
    """The media keys (original, evidence copy, thumbnail) the rows name."""
    return {k for a in rows for k in (a.sha256, a.evidence_sha256, a.thumbnail_sha256) if k}


class RetentionQueries(_Repository):
    async def ended_cases_due(self, ended_before: datetime, born_on_or_before: date, limit: int) -> list[int]:
        """Closed or cleared cases not yet anonymised that ended before `ended_before`, of children born
        on or before `born_on_or_before`; a cleared case has no closing time, its last change counts."""
        ended = func.coalesce(Case.closed_at, Case.updated_at)
        q = (
            select(Case.id)
            .join(Student, Student.id == Case.student_id)
            .where(
                Case.status.in_(ENDED),
                Case.anonymised_at.is_(None),
                ended < ended_before,
                Student.birth_date <= born_on_or_before,
            )
            .order_by(Case.id)
            .limit(limit)
        )
        return list((await self.session.scalars(q)).all())

    async def cases(self, case_ids: Collection[int]) -> Sequence[Case]:
        q = select(Case).where(Case.id.in_(sorted(case_ids))).order_by(Case.id)
        return (await self.session.scalars(q)).all()

    async def cases_of_student(self, student_id: int) -> Sequence[Case]:
        q = select(Case).where(Case.student_id == student_id).order_by(Case.id)
        return (await self.session.scalars(q)).all()

    async def events(self, case_ids: Collection[int]) -> Sequence[CaseEvent]:
        q = select(CaseEvent).where(CaseEvent.case_id.in_(sorted(case_ids)))
        return (await self.session.scalars(q.order_by(CaseEvent.case_id, CaseEvent.id))).all()

    async def escalations(self, case_ids: Collection[int]) -> Sequence[Escalation]:
        q = select(Escalation).where(Escalation.case_id.in_(sorted(case_ids))).order_by(Escalation.id)
        return (await self.session.scalars(q)).all()

    async def reminders(self, case_ids: Collection[int]) -> Sequence[Reminder]:
        q = select(Reminder).where(Reminder.case_id.in_(sorted(case_ids))).order_by(Reminder.id)
        return (await self.session.scalars(q)).all()

    async def attachments_of_cases(self, case_ids: Collection[int]) -> Sequence[Attachment]:
        q = select(Attachment).where(Attachment.case_id.in_(sorted(case_ids))).order_by(Attachment.id)
        return (await self.session.scalars(q)).all()

    async def flags(self, student_id: int) -> Sequence[StudentFlag]:
        return (
            await self.session.scalars(select(StudentFlag).where(StudentFlag.student_id == student_id))
        ).all()

    async def students_fully_anonymised(self, student_ids: Collection[int]) -> list[int]:
        """Of these students, those not yet anonymised whose every case is."""
        pending = select(Case.id).where(Case.student_id == Student.id, Case.anonymised_at.is_(None)).exists()
        q = select(Student.id).where(
            Student.id.in_(sorted(student_ids)), Student.anonymised_at.is_(None), ~pending
        )
        return list((await self.session.scalars(q.order_by(Student.id))).all())

    async def draft_photos_due(
        self, created_before: datetime, limit: int, after_id: int = 0
    ) -> tuple[list[Attachment], int | None]:
        """Photos never attached to a submitted visit or return, uploaded before `created_before`, that
        no form still open names (a teacher may come back to a form after a weekend); with the last id
        looked at (None when there were no more), to page on from."""
        q = (
            select(Attachment)
            .where(
                Attachment.event_id.is_(None),
                Attachment.created_at < created_before,
                Attachment.id > after_id,
            )
            .order_by(Attachment.id)
            .limit(limit)
        )
        rows = (await self.session.scalars(q)).all()
        if not rows:
            return [], None
        kept = await self._photos_in_open_forms() | await self._home_teaching_photos()
        return [a for a in rows if a.id not in kept], rows[-1].id

    async def _home_teaching_photos(self) -> set[int]:
        """Photos of logged home-teaching sessions: they belong to no case event, yet are kept."""
        found: set[int] = set()
        for ids in (await self.session.scalars(select(HomeTeachingSession.photo_ids))).all():
            found.update(i for i in ids or [] if isinstance(i, int))
        return found

    async def _photos_in_open_forms(self) -> set[int]:
        found: set[int] = set()
        for answers in (await self.session.scalars(select(ConversationDraft.answers))).all():
            for key in ("photos", "attachments", "attachment_ids"):
                value = answers.get(key) if isinstance(answers, dict) else None
                if isinstance(value, list):
                    found.update(v for v in value if isinstance(v, int))
        return found

    async def keys_in_use(self, keys: Collection[str], besides: Collection[int] = ()) -> set[str]:
        """Which of `keys` rows other than `besides` still name (a file may be shared by two rows)."""
        found: set[str] = set()
        wanted = sorted(keys)
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            for column in _KEY_COLUMNS:
                q = select(column).where(column.in_(batch))
                if besides:
                    q = q.where(Attachment.id.not_in(sorted(besides)))
                found.update(k for k in (await self.session.scalars(q.distinct())).all() if k)
        return found

    async def delete_attachments(self, ids: Collection[int]) -> None:
        if ids:
            await self.session.execute(delete(Attachment).where(Attachment.id.in_(sorted(ids))))

    async def delete_flags(self, student_id: int) -> None:
        await self.session.execute(delete(StudentFlag).where(StudentFlag.student_id == student_id))

    async def delete_reminders(self, case_ids: Collection[int]) -> None:
        if case_ids:
            await self.session.execute(delete(Reminder).where(Reminder.case_id.in_(sorted(case_ids))))

    async def older_than(self, column: InstrumentedAttribute[Any], before: datetime, *, remove: bool) -> int:
        """How many rows of the column's table are older than `before`; deletes them if `remove`."""
        table = column.class_
        if not remove:
            return int(
                await self.session.scalar(select(func.count()).select_from(table).where(column < before)) or 0
            )
        result = await self.session.execute(delete(table).where(column < before))
        return int(getattr(result, "rowcount", 0) or 0)

    async def audit_about(self, pairs: Iterable[tuple[str, object]]) -> Sequence[AuditEntry]:
        """Audit entries naming any of these (entity, id) pairs."""
        by_entity: dict[str, set[str]] = {}
        for entity, entity_id in pairs:
            by_entity.setdefault(entity, set()).add(str(entity_id))
        if not by_entity:
            return []
        clauses = [
            (AuditEntry.entity == entity) & AuditEntry.entity_id.in_(sorted(ids))
            for entity, ids in by_entity.items()
        ]
        q = select(AuditEntry).where(or_(*clauses)).order_by(AuditEntry.at, AuditEntry.id)
        return (await self.session.scalars(q)).all()


AGED_TABLES = {
    "audit_entries": AuditEntry.at,
    "processed_updates": ProcessedUpdate.processed_at,
    "inbox_updates": InboxUpdate.received_at,
}
