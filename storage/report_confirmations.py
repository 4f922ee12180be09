"""Reads and writes of monthly_report_confirmations (migration 0016)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, MonthlyReportConfirmation


class ConfirmationQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, school_id: int, month: date) -> MonthlyReportConfirmation | None:
        q = select(MonthlyReportConfirmation).where(
            MonthlyReportConfirmation.school_id == school_id, MonthlyReportConfirmation.month == month
        )
        return (await self.session.scalars(q)).first()

    async def add(
        self, school_id: int, month: date, staff_id: int, at: datetime
    ) -> MonthlyReportConfirmation:
        row = MonthlyReportConfirmation(
            school_id=school_id, month=month, confirmed_by_id=staff_id, confirmed_at=at
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def confirmed(
        self, school_ids: Collection[int] | None, first: date, last: date
    ) -> set[tuple[int, date]]:
        """(school, month) pairs confirmed for months from `first` to `last` inclusive; None: every school."""
        q = select(MonthlyReportConfirmation.school_id, MonthlyReportConfirmation.month).where(
            MonthlyReportConfirmation.month >= first, MonthlyReportConfirmation.month <= last
        )
        if school_ids is not None:
            q = q.where(MonthlyReportConfirmation.school_id.in_(sorted(school_ids)))
        return {(s, m) for s, m in (await self.session.execute(q)).all()}


async def delivered(session: AsyncSession, entity: str, key: str) -> bool:
    """Whether a report with this delivery key was already sent (the audit log records each delivery)."""
    q = (
        select(AuditEntry.id)
        .where(AuditEntry.action == "deliver", AuditEntry.entity == entity, AuditEntry.entity_id == key)
        .limit(1)
    )
    return (await session.scalar(q)) is not None
