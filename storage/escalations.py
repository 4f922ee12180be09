"""Escalations of missed steps (domain.casework.escalations): who was told, who took it on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from storage.models import Case, Escalation, Student
from storage.repositories import _Repository, _student_in_scope
from storage.scope import Scope


class EscalationRepository(_Repository):
    """Escalations of missed steps (domain.casework.escalations)."""

    async def get(self, escalation_id: int) -> Escalation | None:
        return await self.session.get(Escalation, escalation_id)

    async def of_case(self, case_id: int) -> Sequence[Escalation]:
        q = select(Escalation).where(Escalation.case_id == case_id).order_by(Escalation.id)
        return (await self.session.scalars(q)).all()

    async def find(self, case_id: int, step: str, anchor: str) -> Escalation | None:
        q = select(Escalation).where(
            Escalation.case_id == case_id, Escalation.step == step, Escalation.anchor == anchor
        )
        return await self.session.scalar(q)

    async def open_in_scope(
        self, scope: Scope, *, acknowledged: bool | None = None, limit: int = 200
    ) -> Sequence[tuple[Escalation, Case]]:
        """Unresolved escalations of cases in scope, oldest first; `acknowledged` filters by state."""
        q = (
            select(Escalation, Case)
            .join(Case, Case.id == Escalation.case_id)
            .join(Student, Student.id == Case.student_id)
            .where(Escalation.resolved_at.is_(None))
        )
        if acknowledged is not None:
            q = q.where(
                Escalation.acknowledged_at.is_not(None)
                if acknowledged
                else Escalation.acknowledged_at.is_(None)
            )
        if not scope.everything:
            q = q.where(or_(_student_in_scope(scope), Case.responsible_teacher_id == scope.staff_id))
        rows = await self.session.execute(q.order_by(Escalation.raised_at, Escalation.id).limit(limit))
        return [(e, c) for e, c in rows.all()]
